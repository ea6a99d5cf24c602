// Server-Sent Events over fetch (https://html.spec.whatwg.org/multipage/server-sent-events.html),
// the streaming wire format of OpenAI-compatible and Anthropic chat APIs.
import { ProviderError } from '../types.js';
import { connectError, providerHttpError } from './errors.js';
import { IdleAbort } from './idle-abort.js';

/** One dispatched event. `data` lines are joined with '\n'; `event` is absent for the default type. */
export interface SseEvent {
  readonly event?: string;
  readonly data: string;
}

/**
 * Parses an SSE byte stream into events as they complete. Handles LF, CR and CRLF line ends
 * (also when a CRLF straddles two chunks), multi-line `data`, comments (`:` lines), a leading
 * BOM, and chunk boundaries anywhere, including inside a UTF-8 sequence. `id` and `retry` fields
 * are ignored (we never reconnect). Per the spec, an event without its terminating blank line at
 * end of stream is discarded.
 *
 * Stops quietly (returns) once `signal` aborts, cancelling the body; read errors otherwise
 * propagate. Breaking out of the loop also cancels the body.
 */
export async function* readSse(body: ReadableStream<Uint8Array>, signal: AbortSignal): AsyncGenerator<SseEvent> {
  const reader = body.getReader();
  const onAbort = (): void => void reader.cancel().catch(() => {});
  signal.addEventListener('abort', onAbort, { once: true });
  // The decoder strips a leading BOM (ignoreBOM: false) and buffers split UTF-8 sequences.
  const decoder = new TextDecoder('utf-8');
  let buffer = '';
  let data: string[] = [];
  let event: string | undefined;
  try {
    for (;;) {
      if (signal.aborted) return;
      let chunk: Awaited<ReturnType<typeof reader.read>>;
      try {
        chunk = await reader.read();
      } catch (err) {
        if (signal.aborted) return;
        throw err;
      }
      if (signal.aborted) return;
      if (chunk.done) return; // an unterminated final event is discarded, per the spec
      buffer += decoder.decode(chunk.value, { stream: true });
      let start = 0;
      for (;;) {
        const cr = buffer.indexOf('\r', start);
        const lf = buffer.indexOf('\n', start);
        const end = cr === -1 ? lf : lf === -1 ? cr : Math.min(cr, lf);
        if (end === -1) break;
        // A CR as the last buffered char may be the first half of a CRLF: wait for the next chunk.
        if (end === cr && cr === buffer.length - 1) break;
        const line = buffer.slice(start, end);
        start = end + (end === cr && buffer[cr + 1] === '\n' ? 2 : 1);
        if (line === '') {
          if (data.length > 0) {
            yield event === undefined ? { data: data.join('\n') } : { event, data: data.join('\n') };
            if (signal.aborted) return;
          }
          data = [];
          event = undefined;
          continue;
        }
        if (line.startsWith(':')) continue; // comment / keep-alive
        const colon = line.indexOf(':');
        const field = colon === -1 ? line : line.slice(0, colon);
        let value = colon === -1 ? '' : line.slice(colon + 1);
        if (value.startsWith(' ')) value = value.slice(1);
        if (field === 'data') data.push(value);
        else if (field === 'event') event = value;
      }
      buffer = buffer.slice(start);
    }
  } finally {
    signal.removeEventListener('abort', onAbort);
    reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}

/** What `postSse` sends. */
export interface SseRequest {
  /** Provider name for errors. */
  readonly provider: string;
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

/**
 * POSTs a JSON body and yields the SSE events of the response.
 * Throws ProviderError: non-2xx → `providerHttpError`; network failure before or during the
 * stream → retryable; no event for `idleTimeoutMs` → retryable. Returns quietly when
 * `req.signal` aborts, at any point. Does not judge whether the stream ended properly; the
 * vendor protocol on top does.
 */
export async function* postSse(req: SseRequest): AsyncGenerator<SseEvent> {
  if (req.signal.aborted) return;
  // Aborted by the caller's signal or by the idle deadline; fetch and the body reader both follow it.
  const idle = new IdleAbort(req.signal, req.idleTimeoutMs);
  const timeoutError = (): ProviderError =>
    new ProviderError(req.provider, `timed out: no data for ${req.idleTimeoutMs} ms`, true);
  try {
    idle.arm();
    let res: Response;
    try {
      res = await fetch(req.url, {
        method: 'POST',
        headers: req.headers,
        body: JSON.stringify(req.body),
        signal: idle.signal,
      });
    } catch (err) {
      if (req.signal.aborted) return;
      if (idle.timedOut) throw timeoutError();
      throw connectError(req.provider, err, req.secrets);
    }
    if (!res.ok) {
      idle.pause();
      throw await providerHttpError(req.provider, res, req.secrets);
    }
    if (res.body === null) throw new ProviderError(req.provider, 'response has no body', true);
    try {
      for await (const ev of readSse(res.body, idle.signal)) {
        idle.arm();
        yield ev;
        if (req.signal.aborted) return;
      }
    } catch (err) {
      if (req.signal.aborted) return;
      if (idle.timedOut) throw timeoutError();
      throw connectError(req.provider, err, req.secrets);
    }
    if (req.signal.aborted) return;
    if (idle.timedOut) throw timeoutError();
  } finally {
    idle.dispose(); // releases the connection if the consumer stopped early
  }
}
