/**
 * Fake ElevenLabs stream-input WebSocket (`/v1/text-to-speech/{voiceId}/stream-input`) on 127.0.0.1 for tests.
 *
 * Speaks the documented wire format: client sends `{text:' ', voice_settings, xi_api_key?}` first, then text
 * chunks, then `{text:''}` to end; the server answers every non-blank text chunk with `audioMsPerChunk` of a
 * deterministic sine tone in the requested `output_format` (mu-law or PCM16LE, base64, in several
 * `{audio, isFinal: null, normalizedAlignment}` messages), and after `{text:''}` sends `{isFinal:true}` and
 * closes. Checks the `xi-api-key` header (or `xi_api_key` in the first message), records every connection,
 * and has clean fault modes.
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
  /** Send this many audio messages, then destroy the TCP connection (no close frame, no isFinal). */
  | { readonly kind: 'drop'; readonly afterMessages: number }
  /** On the first text chunk, send a server error message `{message, error, code}` and close with 1008. */
  | { readonly kind: 'error-message'; readonly message: string; readonly error?: string };

export interface FakeElevenLabsScript {
  /** Expected key. Default 'test-elevenlabs-key'. */
  readonly apiKey?: string;
  /** Audio per non-blank text chunk. Default 300 ms. */
  readonly audioMsPerChunk?: number;
  /** Audio per message. Default 100 ms (odd byte counts for PCM formats do not occur; base64 splits do). */
  readonly messageMs?: number;
  readonly toneHz?: number;
  /**
   * Wait this long after a connection's first non-blank text before sending its first audio (a
   * provider's time to first byte); later answers on that connection queue behind it in order.
   * Default 0: audio is sent at once.
   */
  readonly firstAudioDelayMs?: number;
  readonly fault?: FakeElevenLabsFault | ((connectionIndex: number) => FakeElevenLabsFault | undefined);
}

export interface RecordedElevenLabsConnection {
  readonly path: string;
  readonly voiceId: string;
  readonly query: Readonly<Record<string, string>>;
  readonly headers: IncomingHttpHeaders;
  /** Parsed client messages, in arrival order (filled in as they arrive). */
  readonly messages: unknown[];
  /** True once the client's socket closed. */
  closed: boolean;
}

export interface FakeElevenLabsServer {
  /** Base URL to give the provider (`ws://127.0.0.1:<port>`). */
  readonly url: string;
  readonly requests: RecordedElevenLabsConnection[];
  close(): Promise<void>;
}

/** Rate and byte encoding of each output format the fake serves. */
const FORMATS: Readonly<Record<string, { rateHz: number; mulaw: boolean }>> = {
  ulaw_8000: { rateHz: 8000, mulaw: true },
  pcm_16000: { rateHz: 16000, mulaw: false },
  pcm_22050: { rateHz: 22050, mulaw: false },
  pcm_24000: { rateHz: 24000, mulaw: false },
};

const PATH_RE = /^\/v1\/text-to-speech\/([^/]+)\/stream-input$/;

const STATUS_TEXT: Readonly<Record<number, string>> = { 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 429: 'Too Many Requests', 500: 'Internal Server Error', 503: 'Service Unavailable' };

function refuse(socket: Duplex, status: number, body: string): void {
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Error'}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

/**
 * Starts the fake.
 * @param script behaviour; see {@link FakeElevenLabsScript}.
 * @returns the base URL, the recorded connections, and `close`.
 */
export async function startFakeElevenLabs(script: FakeElevenLabsScript = {}): Promise<FakeElevenLabsServer> {
  const apiKey = script.apiKey ?? 'test-elevenlabs-key';
  const requests: RecordedElevenLabsConnection[] = [];
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
    wss.handleUpgrade(req, socket, head, (ws) => serve(ws, rec, headerKey === apiKey, fault));
  });

  function serve(ws: WebSocket, rec: RecordedElevenLabsConnection, authed: boolean, fault: FakeElevenLabsFault | undefined): void {
    const format = FORMATS[rec.query.output_format ?? 'mp3_44100_128'];
    let audioMessagesSent = 0;
    let dead = false;
    /** Answers queued behind the first-audio delay, if one is running. */
    let pending: Promise<void> | undefined;
    const answer = (fn: () => void): void => {
      if (pending) pending = pending.then(() => {
        if (!dead) fn();
      });
      else fn();
    };
    ws.on('close', () => {
      rec.closed = true;
      dead = true;
    });
    const fail = (message: string, error: string): void => {
      ws.send(JSON.stringify({ message, error, code: 1008 }));
      ws.close(1008, error);
      dead = true;
    };
    /** Sends one chunk's audio over several messages; false if a drop fault fired. */
    const sendAudio = (samples: Int16Array): boolean => {
      const perMessage = Math.max(1, Math.round(((script.messageMs ?? 100) * format!.rateHz) / 1000));
      for (let off = 0; off < samples.length; off += perMessage) {
        if (fault?.kind === 'drop' && audioMessagesSent >= fault.afterMessages) {
          ws.terminate();
          dead = true;
          return false;
        }
        const part = samples.subarray(off, off + perMessage);
        const bytes = format!.mulaw ? mulawEncode(part) : new Uint8Array(part.slice().buffer);
        ws.send(JSON.stringify({ audio: Buffer.from(bytes).toString('base64'), isFinal: null, normalizedAlignment: { chars: [], charStartTimesMs: [], charDurationsMs: [] } }));
        audioMessagesSent++;
      }
      return true;
    };
    ws.on('message', (data) => {
      if (dead) return;
      let msg: Record<string, unknown>;
      try {
        msg = JSON.parse(String(data)) as Record<string, unknown>;
      } catch {
        return fail('message is not JSON', 'invalid_message');
      }
      rec.messages.push(msg);
      const first = rec.messages.length === 1;
      if (first) {
        if (!authed && msg.xi_api_key !== apiKey) return fail('Invalid API key', 'invalid_api_key');
        if (!format) return fail(`unsupported output_format ${String(rec.query.output_format)}`, 'invalid_output_format');
        if (msg.text !== ' ') return fail('the first message must have text " "', 'invalid_message');
        return;
      }
      if (typeof msg.text !== 'string') return fail('text is required', 'invalid_message');
      if (fault?.kind === 'silent') return;
      if (msg.text === '') {
        answer(() => {
          ws.send(JSON.stringify({ isFinal: true }));
          ws.close(1000);
        });
        return;
      }
      if (fault?.kind === 'error-message') return fail(fault.message, fault.error ?? 'fake_error');
      if (msg.text.trim() === '') return;
      const delayMs = script.firstAudioDelayMs ?? 0;
      if (audioMessagesSent === 0 && pending === undefined && delayMs > 0) {
        pending = new Promise<void>((resolve) => setTimeout(resolve, delayMs));
      }
      answer(() => {
        sendAudio(fakeTone(script.audioMsPerChunk ?? 300, format!.rateHz, script.toneHz));
      });
    });
  }

  const port = await listen(server);
  return {
    url: `ws://127.0.0.1:${port}`,
    requests,
    close: async () => {
      for (const s of held) s.destroy();
      for (const c of wss.clients) c.terminate();
      wss.close();
      await closeServer(server);
    },
  };
}
