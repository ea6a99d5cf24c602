// Server-Sent Events (https://html.spec.whatwg.org/multipage/server-sent-events.html), the
// streaming wire format of OpenAI-compatible and Anthropic chat APIs, POSTed over node:http(s).
// Not fetch: undici's web streams cost several ms of CPU per streamed reply (a promise-based read,
// a TextDecoder call and stream bookkeeping per chunk), and the event loop is what limits how many
// calls a server carries. Connections to a provider are kept alive and reused across turns.
import {
  request as httpRequest,
  type ClientRequest,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type RequestOptions,
} from 'node:http';
import { request as httpsRequest } from 'node:https';
import { StringDecoder } from 'node:string_decoder';
import { ProviderError } from '../types.js';
import { httpAgent, httpsAgent, lostUnusedConnection, MAX_STALE_SOCKET_RETRIES } from './connection-pool.js';
import { connectError, providerHttpError, readErrorBody, redact } from './errors.js';
import { IdleAbort } from './idle-abort.js';

/** One dispatched event. `data` lines are joined with '\n'; `event` is absent for the default type. */
export interface SseEvent {
  readonly event?: string;
  readonly data: string;
}

const LF = 0x0a;
const SPACE = 0x20;
const COLON = 0x3a;
const BOM = 0xfeff;

/**
 * The one SSE parser: bytes in, completed events out. Handles LF, CR and CRLF line ends (also when a
 * CRLF straddles two chunks), multi-line `data`, comments (`:` lines), a leading BOM, and chunk
 * boundaries anywhere, including inside a UTF-8 sequence (malformed UTF-8 becomes U+FFFD, as with
 * TextDecoder). `id` and `retry` fields are ignored (we never reconnect). An event still open when the
 * bytes stop is simply never emitted: per the spec, it is discarded at end of stream.
 */
export class SseParser {
  readonly #decoder = new StringDecoder('utf8');
  /** Decoded text after the last complete line. */
  #buffer = '';
  #started = false;
  readonly #data: string[] = [];
  #event: string | undefined;

  /** Parses `bytes`, appending each event they complete to `out`. */
  push(bytes: Uint8Array, out: SseEvent[]): void {
    let text = this.#decoder.write(bytes);
    if (text === '') return;
    if (!this.#started) {
      this.#started = true;
      if (text.charCodeAt(0) === BOM) text = text.slice(1);
    }
    const buf = this.#buffer === '' ? text : this.#buffer + text;
    const len = buf.length;
    let start = 0;
    // Next CR and LF at or after `start`; -1 once there is none left in `buf`.
    let cr = buf.indexOf('\r');
    let lf = buf.indexOf('\n');
    for (;;) {
      if (cr !== -1 && cr < start) cr = buf.indexOf('\r', start);
      if (lf !== -1 && lf < start) lf = buf.indexOf('\n', start);
      const end = cr === -1 ? lf : lf === -1 || cr < lf ? cr : lf;
      if (end === -1) break;
      let next = end + 1;
      if (end === cr) {
        // A CR as the last buffered char may be the first half of a CRLF: wait for the next chunk.
        if (next === len) break;
        if (buf.charCodeAt(next) === LF) next++;
      }
      this.#line(buf, start, end, out);
      start = next;
    }
    this.#buffer = start === 0 ? buf : buf.slice(start);
  }

  /** Interprets the line `buf[start, end)`. */
  #line(buf: string, start: number, end: number, out: SseEvent[]): void {
    if (start === end) {
      const data = this.#data;
      if (data.length > 0) {
        const joined = data.length === 1 ? data[0]! : data.join('\n');
        out.push(this.#event === undefined ? { data: joined } : { event: this.#event, data: joined });
        data.length = 0;
      }
      this.#event = undefined;
      return;
    }
    if (buf.charCodeAt(start) === COLON) return; // comment / keep-alive
    let colon = buf.indexOf(':', start);
    if (colon >= end) colon = -1;
    const fieldLength = (colon === -1 ? end : colon) - start;
    let value = colon === -1 ? end : colon + 1;
    if (value < end && buf.charCodeAt(value) === SPACE) value++;
    if (fieldLength === 4 && buf.startsWith('data', start)) this.#data.push(buf.slice(value, end));
    else if (fieldLength === 5 && buf.startsWith('event', start)) this.#event = buf.slice(value, end);
  }
}

/** What `postSse` sends. */
export interface SseRequest {
  /** Provider name for errors. */
  readonly provider: string;
  /** An http: or https: URL; anything else fails with a non-retryable ProviderError. */
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  /** Serialised as JSON. */
  readonly body: unknown;
  /**
   * Longest wait for the response headers plus first event, and then between events. A silent
   * stream fails as a retryable ProviderError so the caller can fail over mid-conversation.
   */
  readonly idleTimeoutMs: number;
  /** Values (the API key) to redact from error messages. */
  readonly secrets: readonly (string | undefined)[];
  readonly signal: AbortSignal;
}


/** Unread events past which the response is paused until the consumer catches up. */
const QUEUE_HIGH_WATER = 64;
/**
 * After a consumer stops early (say at `data: [DONE]`), how long the response may take to finish
 * (normally only the chunked terminator is still in flight) so its connection can go back to the
 * pool. Any further body data, or this deadline, closes the connection instead.
 */
const DRAIN_GRACE_MS = 500;

/** Request options for `req`; throws a non-retryable ProviderError for a URL we cannot use. */
function requestOptions(req: SseRequest, contentLength: number): RequestOptions {
  let url: URL;
  try {
    url = new URL(req.url);
  } catch {
    throw new ProviderError(req.provider, 'invalid URL', false);
  }
  const https = url.protocol === 'https:';
  if (!https && url.protocol !== 'http:') {
    throw new ProviderError(req.provider, `unsupported URL scheme ${url.protocol} (http: or https: only)`, false);
  }
  if (url.username !== '' || url.password !== '') throw new ProviderError(req.provider, 'URL must not contain credentials', false);
  const headers: OutgoingHttpHeaders = {};
  let hasType = false;
  let hasAgent = false;
  for (const name of Object.keys(req.headers)) {
    const lower = name.toLowerCase();
    if (lower === 'content-length') continue;
    if (lower === 'content-type') hasType = true;
    else if (lower === 'user-agent') hasAgent = true;
    headers[name] = req.headers[name];
  }
  if (!hasType) headers['content-type'] = 'application/json';
  if (!hasAgent) headers['user-agent'] = 'parley';
  headers['content-length'] = contentLength;
  const host = url.hostname;
  return {
    protocol: url.protocol,
    // IPv6 literals come bracketed in URLs, not in request options.
    hostname: host.startsWith('[') ? host.slice(1, -1) : host,
    port: url.port === '' ? undefined : Number(url.port),
    path: `${url.pathname}${url.search}`,
    method: 'POST',
    headers,
    agent: https ? httpsAgent : httpAgent,
  };
}

function isOk(res: IncomingMessage): boolean {
  const s = res.statusCode ?? 0;
  return s >= 200 && s <= 299;
}

/**
 * One request/response, driven by node:http events; `postSse` pulls from it. Events parsed from the
 * body queue up in `events` (from `head` on) and each change wakes the one waiting pull.
 */
class SseExchange {
  readonly events: SseEvent[] = [];
  head = 0;
  /** Set when the response headers arrive. */
  res: IncomingMessage | undefined;
  /** The (2xx) response body ended properly. */
  ended = false;
  /** The first network error; set once. */
  failure: unknown;
  #creq: ClientRequest | undefined;
  #closing = false;
  #paused = false;
  #staleRetries = 0;
  #waiter: (() => void) | undefined;
  readonly #parser = new SseParser();

  constructor(
    private readonly options: RequestOptions,
    private readonly payload: Buffer,
    private readonly idle: IdleAbort,
  ) {
    idle.signal.addEventListener('abort', this.#onAbort, { once: true });
  }

  /** Sends the request (again, after a stale pooled connection). */
  send(): void {
    const request = this.options.protocol === 'https:' ? httpsRequest : httpRequest;
    const creq = request(this.options);
    this.#creq = creq;
    // The error listeners stay for good: nothing may go unhandled after an abort.
    creq.on('error', (err) => this.#onError(creq, err));
    creq.on('response', (res) => this.#onResponse(creq, res));
    creq.end(this.payload);
  }

  /** Resolves on the next change: headers, events, end, failure, abort. */
  wait(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.#waiter = resolve;
    });
  }

  /** The consumer has taken every queued event. */
  drained(): void {
    this.events.length = 0;
    this.head = 0;
    if (this.#paused) {
      this.#paused = false;
      this.res?.resume();
    }
  }

  /**
   * Ends the exchange: leaves a finished response's connection to the pool, gives a healthy one the
   * consumer stopped reading a short grace to finish (see DRAIN_GRACE_MS), destroys anything else.
   */
  close(): void {
    this.idle.signal.removeEventListener('abort', this.#onAbort);
    const res = this.res;
    if (this.ended || this.#closing) return;
    if (res === undefined || this.failure !== undefined || this.idle.signal.aborted) this.destroy();
    else if (!isOk(res)) {
      if (!res.complete) this.destroy(); // readErrorBody read it to the end, or destroyed it already
    } else this.#drain(res);
  }

  destroy(): void {
    this.#closing = true;
    this.#creq?.destroy();
    this.res?.destroy();
  }

  #wake(): void {
    const w = this.#waiter;
    if (w !== undefined) {
      this.#waiter = undefined;
      w();
    }
  }

  readonly #onAbort = (): void => {
    this.destroy();
    this.#wake();
  };

  #onError(creq: ClientRequest, err: unknown): void {
    if (creq !== this.#creq || this.#closing || this.ended || this.failure !== undefined) return;
    if (this.res === undefined) {
      if (lostUnusedConnection(creq, err) && this.#staleRetries < MAX_STALE_SOCKET_RETRIES) {
        this.#staleRetries++;
        this.send();
        return;
      }
      this.failure = err;
    } else {
      this.failure = new Error('connection dropped mid-stream', { cause: err });
    }
    this.#wake();
  }

  #onResponse(creq: ClientRequest, res: IncomingMessage): void {
    if (creq !== this.#creq || this.#closing) {
      res.destroy();
      return;
    }
    this.res = res;
    res.on('error', (err) => this.#onError(creq, err));
    if (isOk(res)) {
      res.on('data', this.#onData);
      res.on('end', this.#onEnd);
      res.on('close', this.#onClose);
    }
    this.#wake();
  }

  readonly #onData = (chunk: Buffer): void => {
    const events = this.events;
    const before = events.length;
    this.#parser.push(chunk, events);
    if (events.length === before) return;
    if (events.length - this.head >= QUEUE_HIGH_WATER && !this.#paused) {
      this.#paused = true;
      this.res?.pause();
    }
    this.#wake();
  };

  readonly #onEnd = (): void => {
    this.ended = true;
    this.#wake();
  };

  readonly #onClose = (): void => {
    if (this.ended || this.#closing || this.failure !== undefined) return;
    this.failure = new Error('connection closed before the response ended');
    this.#wake();
  };

  #drain(res: IncomingMessage): void {
    const stop = (): void => {
      clearTimeout(timer);
      if (!res.complete) this.destroy();
    };
    const timer = setTimeout(stop, DRAIN_GRACE_MS);
    timer.unref();
    res.off('data', this.#onData);
    res.on('data', stop); // more body: the stream was not at its end
    res.once('end', () => clearTimeout(timer));
    if (this.#paused) res.resume();
  }
}

/**
 * POSTs a JSON body and yields the SSE events of the response.
 * Throws ProviderError: non-2xx → `providerHttpError`; network failure before or during the
 * stream → retryable; no event for `idleTimeoutMs` → retryable; a URL that is not http(s), or a
 * header node:http refuses → not retryable. Returns quietly when `req.signal` aborts, at any point, destroying the request.
 * Does not judge whether the stream ended properly; the vendor protocol on top does.
 */
export async function* postSse(req: SseRequest): AsyncGenerator<SseEvent> {
  if (req.signal.aborted) return;
  const payload = Buffer.from(JSON.stringify(req.body), 'utf8');
  const options = requestOptions(req, payload.byteLength);
  // Aborted by the caller's signal or by the idle deadline; the exchange destroys its request on either.
  const idle = new IdleAbort(req.signal, req.idleTimeoutMs);
  const x = new SseExchange(options, payload, idle);
  const timeoutError = (): ProviderError =>
    new ProviderError(req.provider, `timed out: no data for ${req.idleTimeoutMs} ms`, true);
  try {
    idle.arm();
    try {
      x.send();
    } catch (err) {
      // node:http validates header names and values as it builds the request (say, a key with a newline).
      const detail = err instanceof Error ? err.message : String(err);
      throw new ProviderError(req.provider, `invalid request: ${redact(detail, req.secrets)}`, false);
    }
    while (x.res === undefined && x.failure === undefined && !idle.signal.aborted) await x.wait();
    if (req.signal.aborted) return;
    if (idle.timedOut) throw timeoutError();
    const res = x.res;
    if (res === undefined) throw connectError(req.provider, x.failure, req.secrets);
    if (!isOk(res)) {
      idle.pause();
      const body = await readErrorBody(res);
      if (req.signal.aborted) return;
      throw providerHttpError(req.provider, { status: res.statusCode ?? 0, headers: res.headers, body }, req.secrets);
    }
    for (;;) {
      const events = x.events;
      while (x.head < events.length) {
        const ev = events[x.head++]!;
        idle.arm();
        yield ev;
        if (req.signal.aborted) return;
        if (idle.timedOut) throw timeoutError();
      }
      x.drained();
      if (x.ended) return; // an unterminated final event is discarded, per the spec
      if (x.failure !== undefined) throw connectError(req.provider, x.failure, req.secrets);
      if (!idle.signal.aborted) await x.wait();
      if (req.signal.aborted) return;
      if (idle.timedOut) throw timeoutError();
      if (idle.signal.aborted) return; // not reached: the idle signal aborts for the caller or the deadline only
    }
  } finally {
    idle.dispose(false);
    x.close();
  }
}
