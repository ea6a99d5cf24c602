/**
 * A fake Deepgram live-transcription endpoint (`/v1/listen`) on 127.0.0.1 for provider tests.
 *
 * Speaks the documented Nova streaming protocol: `Authorization: Token <key>` on the upgrade, binary
 * linear16 audio in, `Results` messages out (interim while audio flows; on `{"type":"Finalize"}` the
 * utterance's finals, the last with `from_finalize: true`), silence in answer to `KeepAlive`, and on
 * `CloseStream` a `Metadata` message followed by a normal close. Utterances are counted across all
 * connections by the Finalize messages received, so a reconnect continues with the next scripted one.
 */
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';

/** What the fake says for one utterance. */
export interface FakeDeepgramUtterance {
  /** Interim transcripts, one sent after every `interimEveryAudioMessages` audio messages (the last repeats). */
  readonly interim?: readonly string[];
  /** Final segments sent on Finalize, in order; the last carries `from_finalize: true`. */
  readonly finals: readonly string[];
}

export interface FakeDeepgramScript {
  /** Key the Authorization header must carry (`Token <key>`); anything else gets HTTP 401. Default 'test-key'. */
  apiKey?: string;
  /** Per utterance, in order; utterances past the end get an empty final. */
  utterances?: readonly FakeDeepgramUtterance[];
  /** Send an interim Results after this many audio messages. Default 5. */
  interimEveryAudioMessages?: number;
  /** Reject every upgrade with this HTTP status (e.g. 401, 429, 500). */
  rejectStatus?: number;
  /** On the first connection only, destroy the TCP socket (no close frame) after this many audio messages. */
  dropAfterAudioMessages?: number;
  /** 'upgrade': never answer the upgrade request; 'finalize': accept but never answer Finalize. */
  stall?: 'upgrade' | 'finalize';
  /** Hold each Finalize's answer until the next Finalize, then send it first (a late answer, deterministically). */
  deferFinalizeReplies?: boolean;
  /** Answer each Finalize this long after it arrives (a provider's finalization latency). Default 0: at once. */
  finalizeDelayMs?: number;
}

/** Everything the fake saw, for assertions. */
export interface FakeDeepgramReceived {
  /** Query parameters of each accepted or rejected upgrade, in order. */
  readonly queries: Record<string, string>[];
  /** Authorization header of each upgrade ('' when absent). */
  readonly authorizations: string[];
  /** Number of WebSocket connections accepted. */
  connections: number;
  /** Of those, how many are open now. */
  open: number;
  /** `type` of every JSON text message, in order, across connections. */
  readonly messageTypes: string[];
  /** Binary audio messages and their total bytes, across connections. */
  audioMessages: number;
  audioBytes: number;
}

export interface FakeDeepgram {
  /** Base URL to pass as `baseUrl` (ws://127.0.0.1:port). */
  readonly url: string;
  readonly received: FakeDeepgramReceived;
  /** The live script; tests may change it between utterances. */
  readonly script: FakeDeepgramScript;
  close(): Promise<void>;
}

const REQUIRED_QUERY = { encoding: 'linear16', channels: '1' } as const;

function results(transcript: string, o: { isFinal: boolean; fromFinalize: boolean; startSec: number; durationSec: number }): string {
  return JSON.stringify({
    type: 'Results',
    channel_index: [0, 1],
    duration: o.durationSec,
    start: o.startSec,
    is_final: o.isFinal,
    speech_final: o.isFinal,
    from_finalize: o.fromFinalize,
    channel: { alternatives: [{ transcript, confidence: 0.98, words: [] }] },
    metadata: { request_id: 'fake-request', model_info: { name: 'fake', version: '0', arch: 'fake' } },
  });
}

/**
 * Starts the fake on an ephemeral port.
 * @param script behaviour; kept by reference so a test can change it later.
 */
export async function startFakeDeepgram(script: FakeDeepgramScript = {}): Promise<FakeDeepgram> {
  const received: FakeDeepgramReceived = {
    queries: [],
    authorizations: [],
    connections: 0,
    open: 0,
    messageTypes: [],
    audioMessages: 0,
    audioBytes: 0,
  };
  let utteranceIndex = 0;
  const sockets = new Set<Socket>();
  const http = createServer((_req, res) => {
    res.writeHead(426).end();
  });
  http.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  const wss = new WebSocketServer({ noServer: true });

  http.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    const url = new URL(req.url ?? '/', 'http://fake');
    received.queries.push(Object.fromEntries(url.searchParams));
    const auth = req.headers.authorization ?? '';
    received.authorizations.push(auth);
    if (script.stall === 'upgrade') return; // hold the socket open, say nothing
    const reject = (status: number, err: string): void => {
      const body = JSON.stringify({ err_code: err, err_msg: err, request_id: 'fake-request' });
      socket.end(
        `HTTP/1.1 ${status} Rejected\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
          `dg-error: ${err}\r\nConnection: close\r\n\r\n${body}`,
      );
    };
    if (script.rejectStatus !== undefined) return reject(script.rejectStatus, 'SCRIPTED_REJECTION');
    if (auth !== `Token ${script.apiKey ?? 'test-key'}`) return reject(401, 'INVALID_AUTH');
    if (url.pathname !== '/v1/listen') return reject(404, 'NOT_FOUND');
    for (const [k, v] of Object.entries(REQUIRED_QUERY)) {
      if (url.searchParams.get(k) !== v) return reject(400, `BAD_${k.toUpperCase()}`);
    }
    const rateHz = Number(url.searchParams.get('sample_rate'));
    if (!(rateHz > 0)) return reject(400, 'BAD_SAMPLE_RATE');
    wss.handleUpgrade(req, socket, head, (ws) => serve(ws, rateHz, received.connections++ === 0));
  });

  function serve(ws: WebSocket, rateHz: number, first: boolean): void {
    received.open++;
    ws.on('close', () => received.open--);
    let audioMessages = 0;
    let streamSec = 0; // audio time received on this connection
    let finalizedSec = 0; // audio time up to the last Finalize
    const deferred: string[] = []; // answers held back by deferFinalizeReplies
    let dropped = false;
    ws.on('message', (data: RawData, isBinary: boolean) => {
      if (dropped) return; // ws may still deliver messages parsed from the same TCP read
      if (isBinary) {
        const bytes = Array.isArray(data) ? data.reduce((n, b) => n + b.length, 0) : (data as Buffer | ArrayBuffer).byteLength;
        received.audioMessages++;
        received.audioBytes += bytes;
        audioMessages++;
        streamSec += bytes / 2 / rateHz;
        if (first && script.dropAfterAudioMessages !== undefined && audioMessages >= script.dropAfterAudioMessages) {
          dropped = true;
          ws.terminate(); // no close frame: the client sees an abnormal closure (1006)
          return;
        }
        const every = script.interimEveryAudioMessages ?? 5;
        const interim = script.utterances?.[utteranceIndex]?.interim ?? [];
        if (interim.length > 0 && audioMessages % every === 0) {
          const n = Math.min(audioMessages / every, interim.length) - 1;
          const text = interim[n] ?? '';
          ws.send(results(text, { isFinal: false, fromFinalize: false, startSec: finalizedSec, durationSec: streamSec - finalizedSec }));
        }
        return;
      }
      let type = 'unparseable';
      try {
        const msg = JSON.parse(data.toString()) as { type?: unknown };
        type = typeof msg.type === 'string' ? msg.type : 'untyped';
      } catch {
        // recorded as 'unparseable'
      }
      received.messageTypes.push(type);
      if (type === 'Finalize') {
        const finals = script.utterances?.[utteranceIndex]?.finals ?? [];
        utteranceIndex++;
        if (script.stall === 'finalize') return;
        const segments = finals.length > 0 ? finals : [''];
        const span = (streamSec - finalizedSec) / segments.length;
        const replies = segments.map((text, i) =>
          results(text, {
            isFinal: true,
            fromFinalize: i === segments.length - 1,
            startSec: finalizedSec + i * span,
            durationSec: span,
          }),
        );
        finalizedSec = streamSec;
        const answer = (): void => {
          for (const r of deferred.splice(0)) ws.send(r);
          if (script.deferFinalizeReplies) deferred.push(...replies);
          else for (const r of replies) ws.send(r);
        };
        const delayMs = script.finalizeDelayMs ?? 0;
        if (delayMs > 0) {
          setTimeout(() => {
            if (ws.readyState === ws.OPEN) answer();
          }, delayMs);
        } else answer();
      } else if (type === 'CloseStream') {
        ws.send(JSON.stringify({ type: 'Metadata', request_id: 'fake-request', duration: streamSec, channels: 1 }));
        ws.close(1000);
      }
      // KeepAlive: no response, per the docs.
    });
  }

  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const { port } = http.address() as AddressInfo;
  return {
    url: `ws://127.0.0.1:${port}`,
    received,
    script,
    async close() {
      for (const c of wss.clients) c.terminate();
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}
