/**
 * Fake ElevenLabs multi-context WebSocket (`/v1/text-to-speech/{voiceId}/multi-stream-input`) on 127.0.0.1 for
 * tests and benches.
 *
 * Speaks the documented wire format
 * (https://elevenlabs.io/docs/api-reference/text-to-speech/v-1-text-to-speech-voice-id-multi-stream-input):
 * - client messages carry `context_id` (absent = the `default` context). The connection's first message must be
 *   `{text: ' ', …}` and carries `xi_api_key` unless the `xi-api-key` header did; a message for an unknown
 *   context opens it.
 * - every non-blank `text` is answered with `audioMsPerChunk` of a deterministic sine tone in the requested
 *   `output_format` (mu-law or PCM16LE, base64), in several `{audio, normalizedAlignment, alignment, contextId}`
 *   messages; `{text: '', context_id}` is a keep-alive (counted, nothing else).
 * - `{context_id, close_context: true}`: the context's queued audio still goes out (as documented for flushed
 *   text), then `{isFinal: true, contextId}`; later text for it is ignored.
 * - `{close_socket: true}`: once every context's queued audio went out, the server closes with 1000.
 * - more than 5 contexts open at once (opened, isFinal not yet sent) is the documented limit: error message
 *   `max_active_conversations`, close 1008.
 * Each context answers in order, independently of the others. Checks the key, records every connection and
 * context, and has clean fault modes.
 */
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { mulawEncode } from '../../src/audio/mulaw.js';
import { closeServer, fakeTone, listen } from './openai-tts-server.js';

/** A way for the fake to misbehave on one connection. */
export type FakeElevenLabsFault =
  /** Refuse the WebSocket upgrade with this HTTP status. */
  | { readonly kind: 'status'; readonly status: number }
  /** Never answer the upgrade request (exercises the connect timeout). */
  | { readonly kind: 'stall' }
  /** Accept and read messages, but never send audio or isFinal. */
  | { readonly kind: 'silent' }
  /** Send this many audio messages on the connection, then destroy the TCP connection (no close frame, no isFinal). */
  | { readonly kind: 'drop'; readonly afterMessages: number }
  /** On the first non-blank text, send a server error `{message, error, code, contextId}` and close with 1008. */
  | { readonly kind: 'error-message'; readonly message: string; readonly error?: string };

export interface FakeElevenLabsScript {
  /** Expected key. Default 'test-elevenlabs-key'. */
  readonly apiKey?: string;
  /** Audio per non-blank text chunk. Default 300 ms. */
  readonly audioMsPerChunk?: number;
  /** Audio per message. Default 100 ms (odd byte counts for PCM formats do not occur; base64 splits do). */
  readonly messageMs?: number;
  /** Pause between two audio messages. Default 0: a chunk's messages go out back to back. */
  readonly messageIntervalMs?: number;
  /** Tone frequency, or one per text chunk (to tell contexts' audio apart). Default 440 Hz. */
  readonly toneHz?: number | ((text: string) => number);
  /**
   * Wait this long after a context's first non-blank text before sending its first audio (a provider's time to
   * first byte); later answers on that context queue behind it in order. Default 0: audio is sent at once.
   */
  readonly firstAudioDelayMs?: number;
  readonly fault?: FakeElevenLabsFault | ((connectionIndex: number) => FakeElevenLabsFault | undefined);
}

export interface RecordedElevenLabsContext {
  readonly id: string;
  /** Parsed client messages for this context, in arrival order. */
  readonly messages: unknown[];
  /** Keep-alives (`text: ''`) received. */
  keepAlives: number;
  /** True once the client sent `close_context`. */
  closeRequested: boolean;
  /** Audio messages sent for this context. */
  audioMessagesSent: number;
  /** True once `isFinal` went out. */
  finalSent: boolean;
}

export interface RecordedElevenLabsConnection {
  readonly path: string;
  readonly voiceId: string;
  readonly query: Readonly<Record<string, string>>;
  readonly headers: IncomingHttpHeaders;
  /** Parsed client messages, in arrival order (filled in as they arrive). */
  readonly messages: unknown[];
  /** Contexts opened on this connection, in order. */
  readonly contexts: RecordedElevenLabsContext[];
  /** True once the client sent `close_socket`. */
  closeSocketReceived: boolean;
  /** True once the client's socket closed. */
  closed: boolean;
}

export interface FakeElevenLabsServer {
  /** Base URL to give the provider (`ws://127.0.0.1:<port>`). */
  readonly url: string;
  /** Every upgrade request (= connection attempt), refused ones included. */
  readonly requests: RecordedElevenLabsConnection[];
  /** WebSocket connections accepted so far. */
  readonly acceptedConnections: number;
  /** WebSocket connections open now. */
  readonly openConnections: number;
  /** Destroys every open connection's TCP socket (no close frame): the network dropping them. */
  dropConnections(): void;
  close(): Promise<void>;
}

/** Rate and byte encoding of each output format the fake serves. */
const FORMATS: Readonly<Record<string, { rateHz: number; mulaw: boolean }>> = {
  ulaw_8000: { rateHz: 8000, mulaw: true },
  pcm_16000: { rateHz: 16000, mulaw: false },
  pcm_22050: { rateHz: 22050, mulaw: false },
  pcm_24000: { rateHz: 24000, mulaw: false },
};

/** Documented limit of concurrent contexts per connection. */
const MAX_CONTEXTS = 5;

const PATH_RE = /^\/v1\/text-to-speech\/([^/]+)\/multi-stream-input$/;

const STATUS_TEXT: Readonly<Record<number, string>> = { 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 429: 'Too Many Requests', 500: 'Internal Server Error', 503: 'Service Unavailable' };

function refuse(socket: Duplex, status: number, body: string): void {
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Error'}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Starts the fake.
 * @param script behaviour; see {@link FakeElevenLabsScript}.
 * @returns the base URL, the recorded connections, connection counters, `dropConnections` and `close`.
 */
export async function startFakeElevenLabs(script: FakeElevenLabsScript = {}): Promise<FakeElevenLabsServer> {
  const apiKey = script.apiKey ?? 'test-elevenlabs-key';
  const requests: RecordedElevenLabsConnection[] = [];
  let accepted = 0;
  const server = createServer((_req, res) => {
    res.writeHead(426);
    res.end();
  });
  const wss = new WebSocketServer({ noServer: true });
  const held = new Set<Duplex>();

  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', 'http://fake');
    const match = PATH_RE.exec(url.pathname);
    const rec: RecordedElevenLabsConnection = {
      path: url.pathname,
      voiceId: decodeURIComponent(match?.[1] ?? ''),
      query: Object.fromEntries(url.searchParams),
      headers: req.headers,
      messages: [],
      contexts: [],
      closeSocketReceived: false,
      closed: false,
    };
    const index = requests.length;
    requests.push(rec);
    const plan = script.fault;
    const fault = typeof plan === 'function' ? plan(index) : plan;
    if (!match) return refuse(socket, 404, '{"detail":"not found"}');
    const headerKey = req.headers['xi-api-key'];
    if (headerKey !== undefined && headerKey !== apiKey) {
      return refuse(socket, 401, JSON.stringify({ detail: { status: 'invalid_api_key', message: `Invalid API key: ${String(headerKey)}` } }));
    }
    if (fault?.kind === 'status') return refuse(socket, fault.status, JSON.stringify({ detail: { status: 'fake_fault', message: `fake status ${fault.status}` } }));
    if (fault?.kind === 'stall') {
      held.add(socket);
      socket.on('close', () => held.delete(socket));
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      accepted++;
      serve(ws, rec, headerKey === apiKey, fault);
    });
  });

  function serve(ws: WebSocket, rec: RecordedElevenLabsConnection, authed: boolean, fault: FakeElevenLabsFault | undefined): void {
    const format = FORMATS[rec.query.output_format ?? 'mp3_44100_128'];
    let audioMessagesSent = 0;
    let dead = false;
    /** Per context: its record and the chain its answers go out on, in order. */
    const live = new Map<string, { rec: RecordedElevenLabsContext; chain: Promise<void>; open: boolean; delayed: boolean }>();
    ws.on('close', () => {
      rec.closed = true;
      dead = true;
    });
    const fail = (message: string, error: string, contextId?: string): void => {
      ws.send(JSON.stringify({ message, error, code: 1008, ...(contextId !== undefined ? { contextId } : {}) }));
      ws.close(1008, error);
      dead = true;
    };
    /** Sends one chunk's audio over several messages; false if the connection died (drop fault, client gone). */
    const sendAudio = async (ctx: RecordedElevenLabsContext, samples: Int16Array): Promise<boolean> => {
      const perMessage = Math.max(1, Math.round(((script.messageMs ?? 100) * format!.rateHz) / 1000));
      for (let off = 0; off < samples.length; off += perMessage) {
        if (dead) return false;
        if (fault?.kind === 'drop' && audioMessagesSent >= fault.afterMessages) {
          ws.terminate();
          dead = true;
          return false;
        }
        if (off > 0 && (script.messageIntervalMs ?? 0) > 0) {
          await sleep(script.messageIntervalMs!);
          if (dead) return false;
        }
        const part = samples.subarray(off, off + perMessage);
        const bytes = format!.mulaw ? mulawEncode(part) : new Uint8Array(part.slice().buffer);
        ws.send(
          JSON.stringify({
            audio: Buffer.from(bytes).toString('base64'),
            normalizedAlignment: { chars: [], charStartTimesMs: [], charDurationsMs: [] },
            alignment: { chars: [], charStartTimesMs: [], charDurationsMs: [] },
            contextId: ctx.id,
          }),
        );
        audioMessagesSent++;
        ctx.audioMessagesSent++;
      }
      return true;
    };
    const toneFor = (text: string): number | undefined => (typeof script.toneHz === 'function' ? script.toneHz(text) : script.toneHz);

    ws.on('message', (data) => {
      if (dead) return;
      let msg: Record<string, unknown>;
      try {
        msg = JSON.parse(String(data)) as Record<string, unknown>;
      } catch {
        return fail('message is not JSON', 'invalid_message');
      }
      rec.messages.push(msg);
      if (rec.messages.length === 1) {
        if (!authed && msg.xi_api_key !== apiKey) return fail('Invalid API key', 'invalid_api_key');
        if (!format) return fail(`unsupported output_format ${String(rec.query.output_format)}`, 'invalid_output_format');
        if (msg.text !== ' ') return fail('the first message must have text " "', 'invalid_message');
      }
      if (msg.close_socket === true) {
        rec.closeSocketReceived = true;
        void Promise.all([...live.values()].map((c) => c.chain)).then(() => {
          if (!dead) ws.close(1000);
        });
        return;
      }
      const id = typeof msg.context_id === 'string' ? msg.context_id : 'default';
      let ctx = live.get(id);
      if (msg.close_context === true) {
        if (!ctx || ctx.rec.closeRequested) return;
        ctx.rec.closeRequested = true;
        ctx.rec.messages.push(msg);
        const c = ctx;
        c.chain = c.chain.then(() => {
          if (dead || fault?.kind === 'silent') return;
          ws.send(JSON.stringify({ isFinal: true, contextId: id }));
          c.rec.finalSent = true;
          c.open = false;
        });
        return;
      }
      if (!ctx) {
        if (typeof msg.text !== 'string') return; // flush/keep-alive for a context that does not exist: ignored
        const open = [...live.values()].filter((c) => c.open).length;
        if (open >= MAX_CONTEXTS) {
          return fail(`Maximum simultaneous contexts per WebSocket connection exceeded (${MAX_CONTEXTS}). Please close an existing context before opening a new one.`, 'max_active_conversations');
        }
        const r: RecordedElevenLabsContext = { id, messages: [], keepAlives: 0, closeRequested: false, audioMessagesSent: 0, finalSent: false };
        rec.contexts.push(r);
        ctx = { rec: r, chain: Promise.resolve(), open: true, delayed: false };
        live.set(id, ctx);
      }
      ctx.rec.messages.push(msg);
      if (ctx.rec.closeRequested) return; // text after close_context is ignored
      if (typeof msg.text !== 'string') return;
      if (msg.text === '') {
        ctx.rec.keepAlives++;
        return;
      }
      if (msg.text.trim() === '') return;
      if (fault?.kind === 'silent') return;
      if (fault?.kind === 'error-message') return fail(fault.message, fault.error ?? 'fake_error', id);
      const c = ctx;
      const delayMs = script.firstAudioDelayMs ?? 0;
      if (delayMs > 0 && !c.delayed) {
        c.delayed = true;
        c.chain = c.chain.then(() => sleep(delayMs));
      }
      const tone = fakeTone(script.audioMsPerChunk ?? 300, format!.rateHz, toneFor(msg.text));
      c.chain = c.chain.then(async () => {
        if (!dead) await sendAudio(c.rec, tone);
      });
    });
  }

  const port = await listen(server);
  return {
    url: `ws://127.0.0.1:${port}`,
    requests,
    get acceptedConnections() {
      return accepted;
    },
    get openConnections() {
      return wss.clients.size;
    },
    dropConnections: () => {
      for (const c of wss.clients) c.terminate();
    },
    close: async () => {
      for (const s of held) s.destroy();
      for (const c of wss.clients) c.terminate();
      wss.close();
      await closeServer(server);
    },
  };
}
