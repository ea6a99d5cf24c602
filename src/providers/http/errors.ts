// Turns HTTP and network failures of cloud providers into ProviderErrors that are safe to log:
// messages carry the status and a short, redacted excerpt of the response body, never request
// headers or credentials.
import { ProviderError } from '../types.js';

/** Longest body excerpt kept in an error message; enough for a vendor's error text, not a page. */
export const ERROR_BODY_EXCERPT_CHARS = 200;
/** Bytes read from an error body at most; a misbehaving server must not make us buffer megabytes. */
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

/** Reads at most ERROR_BODY_MAX_BYTES of `res`'s body within ERROR_BODY_READ_TIMEOUT_MS; never throws. */
async function readExcerpt(res: Response): Promise<string> {
  const body = res.body;
  if (body === null) return '';
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let text = '';
  let bytes = 0;
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), ERROR_BODY_READ_TIMEOUT_MS);
  });
  try {
    while (bytes < ERROR_BODY_MAX_BYTES) {
      const r = await Promise.race([reader.read(), timedOut]);
      if (r === 'timeout' || r.done) break;
      bytes += r.value.byteLength;
      text += decoder.decode(r.value, { stream: true });
    }
  } catch {
    // The connection died while we read the error body; the status is still worth reporting.
  } finally {
    clearTimeout(timer);
    reader.cancel().catch(() => {});
  }
  return text;
}

/** Collapses whitespace and cuts `text` to ERROR_BODY_EXCERPT_CHARS. */
function excerpt(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length <= ERROR_BODY_EXCERPT_CHARS ? flat : `${flat.slice(0, ERROR_BODY_EXCERPT_CHARS)}…`;
}

/**
 * Builds the error for a non-2xx response: retryable for 408/409/429/5xx, not for other 4xx.
 * The message is `HTTP <status>: <body excerpt>`, with `secrets` (pass the API key) and anything
 * key-shaped redacted. Consumes (and releases) the response body.
 */
export async function providerHttpError(
  provider: string,
  res: Response,
  secrets: readonly (string | undefined)[] = [],
): Promise<ProviderError> {
  const body = excerpt(redact(await readExcerpt(res), secrets));
  const message = body === '' ? `HTTP ${res.status}` : `HTTP ${res.status}: ${body}`;
  return new ProviderError(provider, message, isRetryableStatus(res.status));
}

/**
 * Builds the (retryable) error for a network failure: refused, reset, DNS, TLS, dropped mid-stream.
 * Names the underlying error code (undici wraps it as `TypeError('fetch failed', { cause })`);
 * the original error is not attached as `cause`, since it can carry the request.
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
