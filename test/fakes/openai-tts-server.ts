/**
 * Fake OpenAI speech endpoint (`POST /v1/audio/speech`, `response_format: 'pcm'`) on 127.0.0.1 for tests.
 *
 * Answers with a deterministic sine tone as raw PCM16LE 24 kHz mono, streamed in several chunks, checks the
 * bearer key and request body like the real service does, records every request, and has clean fault
 * modes (status rejection, stall before any byte, stall after headers, connection drop after N bytes).
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Rate of OpenAI's `pcm` response format. */
export const OPENAI_PCM_RATE_HZ = 24000;

/** A way for the fake to misbehave on one request. */
export type FakeHttpFault =
  /** Reply with this status (and an error body in the vendor's shape) instead of audio. */
  | { readonly kind: 'status'; readonly status: number; readonly message?: string }
  /** Read the request, then never send a single byte (not even headers). */
  | { readonly kind: 'stall' }
  /** Send 200 and headers, then never send a body byte. */
  | { readonly kind: 'stall-body' }
  /** Send 200, exactly `afterBytes` audio bytes, then destroy the TCP connection (no clean end). */
  | { readonly kind: 'drop'; readonly afterBytes: number };

/** Fault for every request, or per request (0-based index; `undefined` = behave). */
export type FaultPlan = FakeHttpFault | ((requestIndex: number) => FakeHttpFault | undefined);

export interface FakeOpenAiTtsScript {
  /** Expected bearer key; `null` = keyless server that accepts any or no Authorization. Default 'test-openai-key'. */
  readonly apiKey?: string | null;
  /** Audio length per request. Default 500 ms. */
  readonly audioMs?: number;
  /** Tone frequency. Default 440 Hz. */
  readonly toneHz?: number;
  /** Bytes per body write. Default 4801 (odd on purpose: exercises half-sample carrying). */
  readonly chunkBytes?: number;
  readonly fault?: FaultPlan;
}

export interface RecordedHttpRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  /** Parsed JSON body, when it parsed. */
  readonly json?: unknown;
}

export interface FakeHttpServer {
  /** Base URL to give the provider (for OpenAI: ends in `/v1`). */
  readonly url: string;
  readonly requests: RecordedHttpRequest[];
  /** TCP connections accepted so far. */
  readonly connections: () => number;
  /** Stops listening and destroys every open connection, stalled ones included. */
  close(): Promise<void>;
}

/**
 * Deterministic test tone: a sine at `toneHz`, amplitude 8000.
 * @returns exactly `round(durationMs * rate / 1000)` samples.
 */
export function fakeTone(durationMs: number, sampleRateHz: number, toneHz = 440): Int16Array {
  const n = Math.round((durationMs * sampleRateHz) / 1000);
  const out = new Int16Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.round(8000 * Math.sin((2 * Math.PI * toneHz * i) / sampleRateHz));
  return out;
}

export function pickFault(plan: FaultPlan | undefined, index: number): FakeHttpFault | undefined {
  return typeof plan === 'function' ? plan(index) : plan;
}

/**
 * Writes `bytes` as a streamed body in `chunkBytes` pieces (one per event-loop turn, so the client sees several
 * reads), honouring a `drop` fault.
 */
export function streamBody(res: ServerResponse, bytes: Uint8Array, chunkBytes: number, fault: FakeHttpFault | undefined): void {
  const limit = fault?.kind === 'drop' ? Math.min(fault.afterBytes, bytes.length) : bytes.length;
  let off = 0;
  const step = (): void => {
    if (res.destroyed) return;
    if (off >= limit) {
      if (fault?.kind === 'drop') res.socket?.destroy();
      else res.end();
      return;
    }
    const end = Math.min(off + chunkBytes, limit);
    res.write(bytes.subarray(off, end));
    off = end;
    setImmediate(step);
  };
  step();
}

export async function readBody(req: IncomingMessage): Promise<string> {
  const parts: Buffer[] = [];
  for await (const c of req) parts.push(c as Buffer);
  return Buffer.concat(parts).toString('utf8');
}

/**
 * Keep-alive as the cloud APIs do it: no `Keep-Alive: timeout` hint, idle connections left for the
 * client to close (Node's server would otherwise close them after 5 s and say so). Counts connections.
 */
export function likeCloudApi(server: ReturnType<typeof createServer>): () => number {
  server.keepAliveTimeout = 0;
  let n = 0;
  server.on('connection', () => n++);
  return () => n;
}

export async function listen(server: ReturnType<typeof createServer>): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return (server.address() as AddressInfo).port;
}

export function closeServer(server: ReturnType<typeof createServer>): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

function sendJsonError(res: ServerResponse, status: number, message: string, code: string): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ error: { message, type: 'invalid_request_error', param: null, code } }));
}

/**
 * Starts the fake.
 * @param script behaviour; see {@link FakeOpenAiTtsScript}.
 * @returns the base URL (`http://127.0.0.1:<port>/v1`), the recorded requests, and `close`.
 */
export async function startFakeOpenAiTts(script: FakeOpenAiTtsScript = {}): Promise<FakeHttpServer> {
  const apiKey = script.apiKey === undefined ? 'test-openai-key' : script.apiKey;
  const requests: RecordedHttpRequest[] = [];
  const server = createServer((req, res) => {
    void (async () => {
      const body = await readBody(req);
      let json: unknown;
      try {
        json = JSON.parse(body);
      } catch {
        json = undefined;
      }
      const index = requests.length;
      requests.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers, body, ...(json === undefined ? {} : { json }) });
      if (req.method !== 'POST' || req.url !== '/v1/audio/speech') return sendJsonError(res, 404, 'Not found', 'not_found');
      const auth = req.headers.authorization;
      if (apiKey !== null && auth !== `Bearer ${apiKey}`) {
        // The real service echoes (a masked form of) the presented key: echo it whole, so tests prove that
        // providers never pass server text through unredacted.
        return sendJsonError(res, 401, `Incorrect API key provided: ${auth?.replace(/^Bearer /, '') ?? '(none)'}.`, 'invalid_api_key');
      }
      const fault = pickFault(script.fault, index);
      if (fault?.kind === 'status') return sendJsonError(res, fault.status, fault.message ?? `fake status ${fault.status}`, 'fake_fault');
      if (fault?.kind === 'stall') return; // hold the socket open, say nothing
      const b = json as Record<string, unknown> | undefined;
      if (
        typeof b !== 'object' || b === null ||
        typeof b.model !== 'string' || typeof b.voice !== 'string' ||
        typeof b.input !== 'string' || b.input.length === 0 || b.response_format !== 'pcm'
      ) {
        return sendJsonError(res, 400, 'model, voice, input and response_format=pcm are required', 'invalid_body');
      }
      res.writeHead(200, { 'content-type': 'audio/pcm', 'transfer-encoding': 'chunked' });
      res.flushHeaders();
      if (fault?.kind === 'stall-body') return;
      const tone = fakeTone(script.audioMs ?? 500, OPENAI_PCM_RATE_HZ, script.toneHz);
      const bytes = new Uint8Array(tone.buffer, tone.byteOffset, tone.byteLength);
      streamBody(res, bytes, script.chunkBytes ?? 4801, fault);
    })();
  });
  const connections = likeCloudApi(server);
  const port = await listen(server);
  return { url: `http://127.0.0.1:${port}/v1`, requests, connections, close: () => closeServer(server) };
}
