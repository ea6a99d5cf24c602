// Turns HTTP and network failures of cloud providers into ProviderErrors that are safe to log:
// messages carry the status and a short, redacted excerpt of the response body, never request
// headers or credentials.
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { StringDecoder } from 'node:string_decoder';
import { ProviderError } from '../types.js';

/** Longest body excerpt kept in an error message; enough for a vendor's error text, not a page. */
export const ERROR_BODY_EXCERPT_CHARS = 200;
/**
 * Bytes read from an error body at most (the chunk that crosses it is kept); a misbehaving server
 * must not make us buffer megabytes.
 */
const ERROR_BODY_MAX_BYTES = 8 * 1024;
/**
 * How long we wait for an error body. A server that sends a 5xx status and then stalls must not
 * delay failover to the next provider; without the excerpt the status alone still goes out.
 */
export const ERROR_BODY_READ_TIMEOUT_MS = 1_000;

/** Token shapes we always mask, even if the caller forgot to pass the key (OpenAI echoes masked keys). */
const KEY_PATTERNS: readonly RegExp[] = [/\bsk-[A-Za-z0-9_*\-]{6,}/g, /\bBearer\s+\S+/gi];

/** Whether a status is worth retrying or failing over on: timeouts, conflicts, rate limits, server errors. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 409 || status === 429 || status >= 500;
}

/**
 * Replaces every occurrence of `secrets` (and anything shaped like an API key) in `text` with
 * `[redacted]`. Empty secrets are ignored.
 */
export function redact(text: string, secrets: readonly (string | undefined)[] = []): string {
  let out = text;
  for (const s of secrets) if (s !== undefined && s.length > 0) out = out.split(s).join('[redacted]');
  for (const p of KEY_PATTERNS) out = out.replace(p, '[redacted]');
  return out;
}

/**
 * Reads the body of an error response: at most ERROR_BODY_MAX_BYTES (give or take the last chunk)
 * within ERROR_BODY_READ_TIMEOUT_MS. Never throws. A body read to its end leaves the connection
 * free for reuse; one cut short (too long, too slow) is destroyed. Resolves early with what it has
 * if the response errors or is destroyed (e.g. the caller aborted).
 */
export function readErrorBody(res: IncomingMessage): Promise<string> {
  if (res.destroyed) return Promise.resolve('');
  return new Promise<string>((resolve) => {
    const decoder = new StringDecoder('utf8');
    let text = '';
    let bytes = 0;
    let settled = false;
    const finish = (cut: boolean): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      res.off('data', onData);
      res.off('end', onEnd);
      res.off('close', onEnd);
      if (cut) res.destroy();
      resolve(text);
    };
    const onData = (chunk: Buffer): void => {
      bytes += chunk.byteLength;
      text += decoder.write(chunk);
      if (bytes >= ERROR_BODY_MAX_BYTES) finish(true);
    };
    const onEnd = (): void => finish(false);
    // The connection died while we read the error body; the status is still worth reporting.
    res.on('error', () => finish(true));
    res.on('data', onData);
    res.on('end', onEnd);
    res.on('close', onEnd);
    const timer = setTimeout(() => finish(true), ERROR_BODY_READ_TIMEOUT_MS);
  });
}

/** Collapses whitespace and cuts `text` to ERROR_BODY_EXCERPT_CHARS. */
function excerpt(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length <= ERROR_BODY_EXCERPT_CHARS ? flat : `${flat.slice(0, ERROR_BODY_EXCERPT_CHARS)}…`;
}

/** A non-2xx response, its body already read (see `readErrorBody`). */
export interface HttpErrorResponse {
  readonly status: number;
  /**
   * The response headers. Not part of the message: only the status and the body excerpt are, and no
   * header (Retry-After included) changes whether the error is retryable.
   */
  readonly headers?: IncomingHttpHeaders;
  /** The body text, or as much of it as was read; '' when none. */
  readonly body: string;
}

/**
 * Builds the error for a non-2xx response: retryable for 408/409/429/5xx, not for other 4xx.
 * The message is `HTTP <status>: <body excerpt>`, with `secrets` (pass the API key) and anything
 * key-shaped redacted.
 */
export function providerHttpError(
  provider: string,
  res: HttpErrorResponse,
  secrets: readonly (string | undefined)[] = [],
): ProviderError {
  const body = excerpt(redact(res.body, secrets));
  const message = body === '' ? `HTTP ${res.status}` : `HTTP ${res.status}: ${body}`;
  return new ProviderError(provider, message, isRetryableStatus(res.status));
}

/**
 * Builds the (retryable) error for a network failure: refused, reset, DNS, TLS, dropped mid-stream.
 * Names the underlying error codes along the `cause` chain (e.g. `connection dropped mid-stream:
 * aborted (ECONNRESET)`); the original error is not attached as `cause`, since it can carry the
 * request.
 */
export function connectError(provider: string, err: unknown, secrets: readonly (string | undefined)[] = []): ProviderError {
  const parts: string[] = [];
  let e: unknown = err;
  for (let depth = 0; depth < 3 && e instanceof Error; depth++) {
    const code = (e as { code?: unknown }).code;
    parts.push(typeof code === 'string' ? `${e.message} (${code})` : e.message);
    e = e.cause;
  }
  const detail = parts.length === 0 ? String(err) : parts.join(': ');
  return new ProviderError(provider, `connection failed: ${excerpt(redact(detail, secrets))}`, true);
}
