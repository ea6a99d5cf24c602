/**
 * A fake OpenAI-compatible transcription server (`POST …/audio/transcriptions`, multipart) on 127.0.0.1.
 *
 * Parses the multipart body (with undici's FormData parser), checks the `file` part is a RIFF/WAVE file
 * and that `model` is present, and answers `{ text }` from the script. Fault modes: a scripted HTTP status
 * (with an OpenAI-style error body), a stall (never answers), or a dropped connection.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface FakeWhisperScript {
  /** Texts returned for successive successful requests (the last repeats). Default ['']. */
  texts?: readonly string[];
  /** When set, requests must carry `Authorization: Bearer <apiKey>` or get a 401. */
  apiKey?: string;
  /** Answer every request with this status and an OpenAI-style error body. */
  status?: number;
  /** Error message for `status` (may be used to check redaction). */
  errorMessage?: string;
  /** Never answer (the socket stays open until the client gives up). */
  stall?: boolean;
  /** Destroy the connection once the request has been read. */
  drop?: boolean;
}

/** One request as the fake saw it. */
export interface FakeWhisperRequest {
  readonly path: string;
  /** Authorization header, or undefined when absent. */
  readonly authorization: string | undefined;
  /** Text fields of the form (model, language, prompt, response_format, …). */
  readonly fields: Record<string, string>;
  readonly filename: string | undefined;
  /** The uploaded file's bytes. */
  readonly file: Buffer | undefined;
}

export interface FakeWhisper {
  /** Base URL to pass as `baseUrl` (http://127.0.0.1:port/v1). */
  readonly url: string;
  readonly requests: FakeWhisperRequest[];
  /** Requests whose connection closed before the fake answered (e.g. the client aborted). */
  readonly abandoned: () => number;
  /** TCP connections accepted so far. */
  readonly connections: () => number;
  /** The live script; tests may change it between requests. */
  readonly script: FakeWhisperScript;
  close(): Promise<void>;
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) }).end(text);
}

function errorBody(message: string, type: string): unknown {
  return { error: { message, type, param: null, code: null } };
}

/**
 * Starts the fake on an ephemeral port.
 * @param script behaviour; kept by reference so a test can change it later.
 */
export async function startFakeWhisper(script: FakeWhisperScript = {}): Promise<FakeWhisper> {
  const requests: FakeWhisperRequest[] = [];
  const sockets = new Set<Socket>();
  let served = 0;
  let abandoned = 0;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    const path = new URL(req.url ?? '/', 'http://fake').pathname;
    let fields: Record<string, string> = {};
    let filename: string | undefined;
    let file: Buffer | undefined;
    try {
      const form = await new Response(body, { headers: { 'content-type': req.headers['content-type'] ?? '' } }).formData();
      for (const [k, v] of form) {
        if (typeof v === 'string') fields = { ...fields, [k]: v };
        else if (k === 'file') {
          filename = v.name;
          file = Buffer.from(await v.arrayBuffer());
        }
      }
    } catch {
      // recorded with empty fields; rejected below
    }
    requests.push({ path, authorization: req.headers.authorization, fields, filename, file });
    res.on('close', () => {
      if (!res.writableEnded) abandoned++;
    });

    if (script.stall) return;
    if (script.drop) {
      req.socket.destroy();
      return;
    }
    if (req.method !== 'POST' || !path.endsWith('/audio/transcriptions')) return sendJson(res, 404, errorBody('not found', 'invalid_request_error'));
    if (script.apiKey !== undefined && req.headers.authorization !== `Bearer ${script.apiKey}`) {
      return sendJson(res, 401, errorBody('Incorrect API key provided.', 'invalid_request_error'));
    }
    if (script.status !== undefined) return sendJson(res, script.status, errorBody(script.errorMessage ?? `scripted ${script.status}`, 'server_error'));
    if (!file || file.length < 44 || file.toString('latin1', 0, 4) !== 'RIFF' || file.toString('latin1', 8, 12) !== 'WAVE') {
      return sendJson(res, 400, errorBody('Invalid file format.', 'invalid_request_error'));
    }
    if (!fields.model) return sendJson(res, 400, errorBody('you must provide a model parameter', 'invalid_request_error'));
    const texts = script.texts ?? [''];
    const text = texts[Math.min(served, texts.length - 1)] ?? '';
    served++;
    sendJson(res, 200, { text });
  };

  const http = createServer((req, res) => {
    handle(req, res).catch(() => req.socket.destroy());
  });
  // Keep-alive as the cloud APIs do it: no `Keep-Alive: timeout` hint; the client closes idle connections.
  http.keepAliveTimeout = 0;
  let connections = 0;
  http.on('connection', (s: Socket) => {
    connections++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const { port } = http.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    requests,
    abandoned: () => abandoned,
    connections: () => connections,
    script,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}
