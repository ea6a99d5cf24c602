// The kept-alive connection pools every HTTP provider shares (one per protocol, per origin inside),
// and preconnect(): opening a connection ahead of a request, so that the first request after a
// quiet spell does not wait for TCP and TLS. A self-hosted server with a call every few minutes
// finds its pool empty at every call (free sockets are closed after FREE_SOCKET_TIMEOUT_MS), and the
// first reply then waited two to three round trips to the model's API before the request even left.
import { type AgentOptions, type ClientRequest, Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { connect as netConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';

/** How long a pooled connection may sit unused before it is closed (sooner if the server says so). */
const FREE_SOCKET_TIMEOUT_MS = 30_000;
/**
 * How long a preconnected socket waits for its request; then it is closed. Below the 5 s after which
 * common servers (uvicorn, Node's own) close an idle connection, so that one is rarely taken as the
 * server lets it go (and if it is, the request is sent again on a new one, see lostUnusedConnection).
 */
export const PRECONNECT_TTL_MS = 4_000;

/**
 * Free sockets are unref'd by Node's Agent, so the pool never keeps the process alive; the
 * `timeout` only ever closes free sockets (a stream's silence is the idle deadline's business).
 */
const AGENT_OPTIONS: AgentOptions = {
  keepAlive: true,
  keepAliveMsecs: 5_000,
  maxSockets: 512,
  maxFreeSockets: 64,
  timeout: FREE_SOCKET_TIMEOUT_MS,
  scheduling: 'lifo',
};

/** Every socket preconnect() opened, taken or not. */
const preconnected = new WeakSet<object>();

/** New attempts for a request whose connection the server had closed unused (see lostUnusedConnection). */
export const MAX_STALE_SOCKET_RETRIES = 2;

/**
 * Whether `req` failed, before any response, because the server closed its connection as we used it:
 * a kept-alive one reused from the pool, or one preconnect() opened, reset or broken on the write. The
 * server never saw the request, so it may be sent again on a new connection.
 */
export function lostUnusedConnection(req: ClientRequest, err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  const notNew = req.reusedSocket || (req.socket != null && preconnected.has(req.socket));
  return notNew && (code === 'ECONNRESET' || code === 'EPIPE');
}

/** Connections opened ahead of their request, by `host:port`: at most one per origin. */
class ReadySockets {
  /** Each ready socket, with what detaches our listeners and timer from it. */
  readonly #byOrigin = new Map<string, { readonly socket: Socket; readonly release: () => void }>();

  has(origin: string): boolean {
    return this.#byOrigin.has(origin);
  }

  /** Keeps `socket` for `origin` until it is taken, fails, closes or `ttlMs` passes. */
  keep(origin: string, socket: Socket, ttlMs: number): void {
    const drop = (): void => {
      if (this.#byOrigin.get(origin)?.socket !== socket) return;
      this.#byOrigin.delete(origin);
      clearTimeout(timer);
      socket.destroy();
    };
    const timer = setTimeout(drop, ttlMs);
    timer.unref();
    socket.once('error', drop);
    socket.once('close', drop);
    socket.unref();
    preconnected.add(socket);
    const release = (): void => {
      clearTimeout(timer);
      socket.removeListener('error', drop);
      socket.removeListener('close', drop);
    };
    this.#byOrigin.set(origin, { socket, release });
  }

  /** The ready socket for `origin`, handed over to its new owner (ref'd, no listeners of ours); undefined if none. */
  take(origin: string): Socket | undefined {
    const ready = this.#byOrigin.get(origin);
    if (!ready) return undefined;
    this.#byOrigin.delete(origin);
    ready.release();
    if (ready.socket.destroyed) return undefined;
    ready.socket.ref();
    return ready.socket;
  }
}

type CreateConnection = (options: { host?: string | null; port?: number | string | null }, callback: unknown) => unknown;

/** A pool agent whose new connections are the preconnected one for their origin when there is one. */
function withReadySockets<T extends HttpAgent>(agent: T, ready: ReadySockets): T {
  const create = (agent as unknown as { createConnection: CreateConnection }).createConnection.bind(agent);
  (agent as unknown as { createConnection: CreateConnection }).createConnection = (options, callback) =>
    ready.take(`${options.host}:${options.port}`) ?? create(options, callback);
  return agent;
}

const readyHttp = new ReadySockets();
const readyHttps = new ReadySockets();
export const httpAgent = withReadySockets(new HttpAgent(AGENT_OPTIONS), readyHttp);
export const httpsAgent = withReadySockets(new HttpsAgent(AGENT_OPTIONS), readyHttps);

/** Whether the pool holds a free (kept-alive, idle) connection to `host:port`. */
function hasFreeSocket(agent: HttpAgent, origin: string): boolean {
  // freeSockets is keyed by agent.getName(): "host:port:…" (more fields for TLS options).
  const free = agent.freeSockets;
  for (const name in free) {
    if ((name === origin || name.startsWith(`${origin}:`)) && (free[name]?.length ?? 0) > 0) return true;
  }
  return false;
}

interface Origin {
  readonly https: boolean;
  readonly host: string;
  readonly port: number;
  /** `host:port`, as the ready sockets and the pool's names have it. */
  readonly key: string;
}

/** Parsed provider URLs (a handful per process): preconnect runs at every caller turn. */
const origins = new Map<string, Origin | null>();

/** `url`'s origin as node:http sees a request's options (host without IPv6 brackets, the port filled in); null if not http(s). */
function originOf(url: string): Origin | null {
  const known = origins.get(url);
  if (known !== undefined) return known;
  let origin: Origin | null = null;
  try {
    const u = new URL(url);
    const https = u.protocol === 'https:';
    if (https || u.protocol === 'http:') {
      const host = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname;
      const port = u.port === '' ? (https ? 443 : 80) : Number(u.port);
      origin = { https, host, port, key: `${host}:${port}` };
    }
  } catch {
    origin = null;
  }
  if (origins.size < 256) origins.set(url, origin);
  return origin;
}

/**
 * Opens a connection to `url`'s origin for the next request there, unless the pool already has a
 * free one or one is being readied. Returns at once and never throws: a failure here (bad URL,
 * refused, TLS error) is dropped and met again, and reported, by the request itself.
 */
export function preconnect(url: string, ttlMs = PRECONNECT_TTL_MS): void {
  const o = originOf(url);
  if (!o) return;
  const ready = o.https ? readyHttps : readyHttp;
  if (ready.has(o.key) || hasFreeSocket(o.https ? httpsAgent : httpAgent, o.key)) return;
  const socket = o.https ? tlsConnect({ host: o.host, port: o.port, ...(isIP(o.host) === 0 ? { servername: o.host } : {}) }) : netConnect({ host: o.host, port: o.port });
  ready.keep(o.key, socket, ttlMs);
}
