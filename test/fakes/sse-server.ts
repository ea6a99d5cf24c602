// Scriptable fake streaming HTTP server shared by the OpenAI and Anthropic fakes.
// Listens on 127.0.0.1, port 0. Each request takes the next script (the last one repeats).
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** One write to the response body. `delayMs` is waited before the write. */
export type FakeChunk =
  /** Sent as one SSE event (`event:` line only when `event` is given): `data: <JSON>\n\n`. */
  | { readonly json: unknown; readonly event?: string; readonly delayMs?: number }
  /** Sent byte-for-byte, e.g. `data: [DONE]\n\n`, a comment, or deliberately broken framing. */
  | { readonly raw: string; readonly delayMs?: number };

/** What the server does for one request. */
export interface FakeScript {
  /** Response status. Default 200. With a non-2xx status, `errorBody` is sent and `chunks` ignored. */
  readonly status?: number;
  /** Body of a non-2xx response; objects are sent as JSON. Default: the vendor's error shape. */
  readonly errorBody?: unknown;
  /** Body chunks of a 2xx response, in order. */
  readonly chunks?: readonly FakeChunk[];
  /**
   * Whether the vendor's end-of-stream marker follows the chunks (OpenAI `data: [DONE]`).
   * Default true. Servers without a marker ignore it.
   */
  readonly done?: boolean;
  /** Never send the status line: the request hangs until the client gives up or `close()`. */
  readonly stallBeforeFirstByte?: boolean;
  /** Send headers and this many chunks, then keep the connection open silently. */
  readonly stallAfterChunks?: number;
  /** Send headers and this many chunks, then destroy the socket (no proper chunked end). */
  readonly dropAfterChunks?: number;
  /** Extra response headers. */
  readonly headers?: Readonly<Record<string, string>>;
}

/** A request as the fake received it. */
export interface RecordedRequest {
  readonly method: string;
  /** Path and query. */
  readonly path: string;
  /** Lower-cased header names, as node:http gives them. */
  readonly headers: IncomingHttpHeaders;
  /** Parsed JSON body, or the raw text when it is not JSON. */
  readonly body: unknown;
}

/** Scripts: one for every request, a list (request i takes item i; the last repeats), or a function. */
export type FakeScripts = FakeScript | readonly FakeScript[] | ((req: RecordedRequest, index: number) => FakeScript);

export interface FakeServer {
  /** Base URL, e.g. `http://127.0.0.1:41234` (no trailing slash). */
  readonly url: string;
  /** Every request received so far, in order. */
  readonly requests: RecordedRequest[];
  /** Stops listening and destroys every open connection, stalled ones included. Idempotent. */
  close(): Promise<void>;
}

export interface FakeFlavour {
  /** End-of-stream bytes written after the chunks when `done` is not false, if any. */
  readonly doneMarker?: string;
  /** Default error body for a status. */
  readonly errorBody: (status: number) => unknown;
}

/** Starts a fake with the given vendor flavour. */
export async function startFakeSseServer(scripts: FakeScripts, flavour: FakeFlavour): Promise<FakeServer> {
  const requests: RecordedRequest[] = [];
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  let closed = false;

  const pick = (req: RecordedRequest, index: number): FakeScript => {
    if (typeof scripts === 'function') return scripts(req, index);
    if (Array.isArray(scripts)) {
      const list = scripts as readonly FakeScript[];
      const s = list[Math.min(index, list.length - 1)];
      if (s === undefined) throw new Error('fake server: empty script list');
      return s;
    }
    return scripts as FakeScript;
  };

  const sleep = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      const t = setTimeout(() => {
        timers.delete(t);
        resolve();
      }, ms);
      timers.add(t);
    });

  const respond = async (script: FakeScript, res: ServerResponse): Promise<void> => {
    if (script.stallBeforeFirstByte) return; // left open; close() destroys it
    const status = script.status ?? 200;
    if (status < 200 || status > 299) {
      const body = script.errorBody ?? flavour.errorBody(status);
      const text = typeof body === 'string' ? body : JSON.stringify(body);
      res.writeHead(status, { 'content-type': typeof body === 'string' ? 'text/plain' : 'application/json', ...script.headers });
      res.end(text);
      return;
    }
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      ...script.headers,
    });
    res.flushHeaders();
    const chunks = script.chunks ?? [];
    for (let i = 0; i <= chunks.length; i++) {
      if (script.stallAfterChunks === i) return; // silent but open
      if (script.dropAfterChunks === i) {
        res.socket?.destroy();
        return;
      }
      const c = chunks[i];
      if (c === undefined) break;
      if (c.delayMs !== undefined) await sleep(c.delayMs);
      if (closed || res.destroyed) return;
      const text = 'raw' in c ? c.raw : `${c.event === undefined ? '' : `event: ${c.event}\n`}data: ${JSON.stringify(c.json)}\n\n`;
      // Waiting for the flush makes "stall/drop after N chunks" mean N chunks reached the wire.
      await new Promise<void>((resolve) => res.write(text, () => resolve()));
    }
    if (script.done !== false && flavour.doneMarker !== undefined) res.write(flavour.doneMarker);
    res.end();
  };

  const server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (b: Buffer) => parts.push(b));
    req.on('end', () => {
      const text = Buffer.concat(parts).toString('utf8');
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {
        // keep the raw text
      }
      const recorded: RecordedRequest = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body };
      const index = requests.length;
      requests.push(recorded);
      respond(pick(recorded, index), res).catch(() => res.socket?.destroy());
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: async () => {
      if (closed) return;
      closed = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      const done = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      await done;
    },
  };
}
