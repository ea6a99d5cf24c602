/**
 * ElevenLabs streaming TTS over the multi-context WebSocket API
 * (`wss://api.elevenlabs.io/v1/text-to-speech/{voice_id}/multi-stream-input`): ONE socket per provider instance
 * (one call), opened lazily on the first `synthesize` and reused for every sentence; each `synthesize` is one
 * context on it. Base64 audio is decoded and cut into ~20 ms frames as it arrives.
 *
 * Vendor docs this follows:
 * - https://elevenlabs.io/docs/api-reference/text-to-speech/v-1-text-to-speech-voice-id-multi-stream-input
 *   (AsyncAPI spec: query params, message schemas)
 * - https://elevenlabs.io/docs/eleven-api/guides/how-to/websockets/multi-context-web-socket
 *   (one socket per end-user session, close a context on barge-in, 5 contexts per socket, 20 s inactivity)
 *
 * Wire protocol as documented:
 * - URL query: `model_id`, `output_format`, `inactivity_timeout` (seconds, default 20, max 180). The key travels
 *   in the `xi-api-key` upgrade header (the spec's alternative, an `xi_api_key` field, is not used).
 * - Client → server, all JSON text frames:
 *   `{text: ' ', context_id, voice_settings?}` opens a context; `{text: 'chunk ', context_id, flush: true}` adds
 *   text and generates it now; `{context_id, close_context: true}` closes it (already flushed text still
 *   finishes); `{text: '', context_id}` is a KEEP-ALIVE that resets the context's inactivity clock (NOT the
 *   end-of-input it is on the single-context stream-input endpoint); `{close_socket: true}` ends all contexts and
 *   the connection.
 * - Server → client: `{audio, normalizedAlignment, alignment, contextId}` and, when a context has produced all
 *   its audio, `{isFinal: true, contextId}` — camelCase `contextId`/`isFinal` in server messages (the spec's
 *   AudioOutputMulti/FinalOutputMulti) versus snake_case `context_id` in client messages. The guide's Python
 *   sample reads `is_final`, so both spellings are accepted. Errors arrive as `{message, error, code}` (possibly
 *   with `contextId`) and/or a close frame (1008 for policy failures such as a bad key, quota, or more than 5
 *   concurrent contexts).
 *
 * Barge-in (the call's signal aborts) sends `close_context` for that context only; the socket and any other
 * context live on, and audio still arriving for a closed context is dropped (messages are routed by `contextId`,
 * and only contexts still being listened to are routed to). A socket with no context for
 * {@link ELEVENLABS_IDLE_CLOSE_MS} is closed (below the server's 20 s inactivity timeout, so the server never
 * closes it under us); the next `synthesize` reconnects, as it does after a dropped socket. A sentence that went
 * out on a reused socket which then died before any of its audio arrived is replayed once on a new socket; any
 * other socket failure fails the sentence with a ProviderError (retryable unless it is about the key, quota or
 * input) so the fallback chain takes over. While a context waits for text it gets a keep-alive every
 * {@link ELEVENLABS_KEEPALIVE_MS}.
 */
import { WebSocket } from 'ws';
import { z } from 'zod';
import type { AudioFrame } from '../../audio/frame.js';
import { ProviderError, type CallOptions, type TtsProvider } from '../types.js';
import { PcmChunker } from './pcm-chunker.js';

const PROVIDER = 'elevenlabs';

/** Output formats usable on the call path: telephone mu-law, or raw PCM16LE at a rate. */
export type ElevenLabsOutputFormat = 'ulaw_8000' | 'pcm_16000' | 'pcm_22050' | 'pcm_24000';

const FORMAT_RATE_HZ: Readonly<Record<ElevenLabsOutputFormat, number>> = {
  ulaw_8000: 8000,
  pcm_16000: 16000,
  pcm_22050: 22050,
  pcm_24000: 24000,
};

/**
 * Default for the WebSocket handshake (TCP + TLS + upgrade). A healthy handshake takes well under a second;
 * past this the caller is hearing dead air and failing over to another provider is the better deal.
 */
export const ELEVENLABS_DEFAULT_CONNECT_TIMEOUT_MS = 5000;

/**
 * Default for the longest silence from the server once all text has been sent (time to first audio, and gaps
 * between audio messages). First audio normally comes within a few hundred ms; a stuck generation must not
 * hold the call in silence.
 */
export const ELEVENLABS_DEFAULT_RESPONSE_TIMEOUT_MS = 10000;

/** `inactivity_timeout` asked for in the URL (seconds): the documented default, stated so the bounds below hold. */
export const ELEVENLABS_INACTIVITY_TIMEOUT_S = 20;

/** Audio messages are cut into frames of whole 20 ms units, up to this long (see PcmChunker). */
const ELEVENLABS_MAX_FRAME_MS = 100;

/**
 * A socket without any context for this long is closed. Below the server's inactivity timeout, so an idle socket
 * is always closed by us (cleanly) rather than dropped by the server as a new sentence starts on it.
 */
export const ELEVENLABS_IDLE_CLOSE_MS = 15_000;

/** Keep-alive period of a context whose text source is slow (half the server's inactivity timeout). */
export const ELEVENLABS_KEEPALIVE_MS = 10_000;

/** How long `close()` waits for the server's close frame before dropping the TCP connection. */
const CLOSE_GRACE_MS = 1000;

/** WebSocket close code the service uses for policy failures such as a bad key or quota exhaustion. */
const CLOSE_POLICY_VIOLATION = 1008;

export interface ElevenLabsTtsOptions {
  readonly apiKey: string;
  readonly voiceId: string;
  /** Default 'wss://api.elevenlabs.io'. */
  readonly baseUrl?: string;
  /** Default 'eleven_flash_v2_5' (lowest latency). */
  readonly model?: string;
  /** Default 'ulaw_8000': the phone's native format, so only a table decode, no transcoding. */
  readonly outputFormat?: ElevenLabsOutputFormat;
  /** 0..1; sent in `voice_settings` when given. */
  readonly stability?: number;
  /** 0..1; sent in `voice_settings` when given. */
  readonly similarityBoost?: number;
  /** Handshake deadline. Default {@link ELEVENLABS_DEFAULT_CONNECT_TIMEOUT_MS}. */
  readonly connectTimeoutMs?: number;
  /** Longest server silence after the text has been sent. Default {@link ELEVENLABS_DEFAULT_RESPONSE_TIMEOUT_MS}. */
  readonly responseTimeoutMs?: number;
}

/** Connection-lifetime tuning; not tenant options (tests shorten them). */
export interface ElevenLabsTuning {
  /** Default {@link ELEVENLABS_IDLE_CLOSE_MS}. */
  readonly idleCloseMs?: number;
  /** Default {@link ELEVENLABS_KEEPALIVE_MS}. */
  readonly keepAliveMs?: number;
}

/** Tenant-file schema of {@link ElevenLabsTtsOptions}. */
export const elevenLabsTtsOptionsSchema = z.strictObject({
  apiKey: z.string().min(1),
  voiceId: z.string().regex(/^[A-Za-z0-9_-]+$/, 'an ElevenLabs voice id'),
  baseUrl: z.string().regex(/^wss?:\/\/[^\s]+$/, 'a ws:// or wss:// URL').optional(),
  model: z.string().regex(/^[A-Za-z0-9_.-]+$/, 'an ElevenLabs model id like eleven_flash_v2_5').optional(),
  outputFormat: z.enum(['ulaw_8000', 'pcm_16000', 'pcm_22050', 'pcm_24000']).optional(),
  stability: z.number().min(0).max(1).optional(),
  similarityBoost: z.number().min(0).max(1).optional(),
  connectTimeoutMs: z.number().int().positive().max(60000).optional(),
  responseTimeoutMs: z.number().int().positive().max(120000).optional(),
}) satisfies z.ZodType<ElevenLabsTtsOptions>;

/** Text-to-speech through ElevenLabs' multi-context WebSocket: one socket per instance, one context per sentence. */
export class ElevenLabsTts implements TtsProvider {
  readonly name = PROVIDER;
  readonly sampleRateHz: number;
  private readonly o: ElevenLabsTtsOptions;
  private readonly format: ElevenLabsOutputFormat;
  private readonly idleCloseMs: number;
  private readonly keepAliveMs: number;
  /** The socket new contexts go on; undefined until first use, and again once it closed or was closed. */
  private conn: Connection | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  private contextSeq = 0;

  constructor(o: ElevenLabsTtsOptions, tuning: ElevenLabsTuning = {}) {
    this.o = o;
    this.format = o.outputFormat ?? 'ulaw_8000';
    this.sampleRateHz = FORMAT_RATE_HZ[this.format];
    this.idleCloseMs = tuning.idleCloseMs ?? ELEVENLABS_IDLE_CLOSE_MS;
    this.keepAliveMs = tuning.keepAliveMs ?? ELEVENLABS_KEEPALIVE_MS;
  }

  /** Endpoint URL of the socket. Carries no secret (the key travels in the `xi-api-key` header). */
  url(): string {
    const base = (this.o.baseUrl ?? 'wss://api.elevenlabs.io').replace(/\/+$/, '');
    const q = new URLSearchParams({
      model_id: this.o.model ?? 'eleven_flash_v2_5',
      output_format: this.format,
      inactivity_timeout: String(ELEVENLABS_INACTIVITY_TIMEOUT_S),
    });
    return `${base}/v1/text-to-speech/${encodeURIComponent(this.o.voiceId)}/multi-stream-input?${q}`;
  }

  async *synthesize(text: AsyncIterable<string>, o: CallOptions): AsyncIterable<AudioFrame> {
    if (o.signal.aborted) return;
    const chunker = new PcmChunker({
      sampleRateHz: this.sampleRateHz,
      encoding: this.format === 'ulaw_8000' ? 'mulaw' : 'pcm16le',
      maxFrameDurationMs: ELEVENLABS_MAX_FRAME_MS,
    });
    const ctx = new Context(`parley-${++this.contextSeq}`, chunker);
    const responseTimeoutMs = this.o.responseTimeoutMs ?? ELEVENLABS_DEFAULT_RESPONSE_TIMEOUT_MS;
    /** Text chunks (cleaned, space-terminated) read so far: sent as they come, replayed if the context moves. */
    const chunks: string[] = [];
    let inputDone = false;
    let consumerDone = false;
    let conn!: Connection; // the socket the context is on now
    let opened = false; // its init went out on `conn`
    let closeSent = false; // its close_context went out on `conn`
    let moved = false;
    const live = (): boolean => !consumerDone && !o.signal.aborted && conn.isOpen() && conn.contexts.get(ctx.id) === ctx;
    const sendClose = (): void => {
      // Closing a flushed context lets its audio finish, then the server sends isFinal for it.
      conn.send({ context_id: ctx.id, close_context: true });
      closeSent = true;
      ctx.armStallTimer(responseTimeoutMs);
    };
    /** Puts the context on the current socket (a new one if there is none) and sends what it has once open. */
    const attach = (): void => {
      const c = this.connection();
      const reused = c.isOpen(); // opened for an earlier sentence, not for this one
      conn = c;
      opened = false;
      closeSent = false;
      ctx.disarmStallTimer();
      c.contexts.set(ctx.id, ctx);
      ctx.onConnectionLost = (err) => {
        // A reused socket that died before this context got any audio (typically the server or the network
        // dropping a socket that had been idle) costs nothing to retry: replay the text on a new socket, once.
        // A socket opened for this sentence failing is the provider's failure: report it for the fallback chain.
        if (moved || !reused || !err.retryable || ctx.receivedAudio || consumerDone || o.signal.aborted) return false;
        moved = true;
        attach();
        return true;
      };
      void c.ready.then(
        () => {
          if (c !== conn || !live()) return;
          c.send({ text: ' ', context_id: ctx.id, ...this.voiceSettings() });
          opened = true;
          for (const t of chunks) c.send({ text: t, context_id: ctx.id, flush: true });
          if (inputDone) sendClose();
        },
        () => {}, // the socket failed the context itself (Connection.fatal)
      );
    };
    attach();
    ctx.onStall = () => {
      ctx.fail(new ProviderError(PROVIDER, `no audio from the server for ${responseTimeoutMs} ms`, true));
      // Silence this long after all text was sent means this socket (or the server behind it) is unhealthy:
      // later sentences must not queue on it.
      conn.terminate();
    };
    const keepAlive = setInterval(() => {
      if (opened && !inputDone && live()) conn.send({ text: '', context_id: ctx.id });
    }, this.keepAliveMs);
    keepAlive.unref();
    const onAbort = (): void => ctx.inbox.end();
    o.signal.addEventListener('abort', onAbort, { once: true });

    void (async () => {
      for await (const chunk of text) {
        if (consumerDone || o.signal.aborted) return;
        const clean = chunk.replace(/\s+/g, ' ').trim();
        if (clean.length === 0) continue;
        // The API wants each chunk to end with a space. Parley passes sentence-sized chunks, so `flush` starts
        // generation now instead of waiting for the server's chunk_length_schedule (120+ characters).
        chunks.push(`${clean} `);
        if (opened && live()) conn.send({ text: `${clean} `, context_id: ctx.id, flush: true });
      }
      inputDone = true;
      if (opened && live()) sendClose();
    })().catch((err: unknown) => {
      // The text source failed (the caller's error, not ours): surface it unchanged.
      ctx.fail(err);
    });

    try {
      for (;;) {
        const r = await ctx.inbox.next();
        if (r.done || o.signal.aborted) return;
        yield r.value;
        if (o.signal.aborted) return;
      }
    } finally {
      consumerDone = true;
      o.signal.removeEventListener('abort', onAbort);
      clearInterval(keepAlive);
      ctx.dispose();
      const stillRouted = conn.contexts.get(ctx.id) === ctx;
      conn.contexts.delete(ctx.id);
      // Aborted (barge-in), failed, or the consumer stopped early: stop this context's generation on the server.
      // The socket and other contexts live on; audio still arriving for this context is no longer routed.
      if (stillRouted && opened && !closeSent && conn.isOpen()) conn.send({ context_id: ctx.id, close_context: true });
      this.contextEnded(conn);
    }
  }

  /**
   * Opens the call's socket now (during the greeting, and again as the caller talks), so a reply does not
   * wait for the TLS and WebSocket handshakes; on an open socket without a context it only restarts the idle
   * period. Unused, it is closed after the idle period like any socket without a context; a failure is
   * dropped here and met again, and reported, by the next synthesize().
   */
  prepare(): void {
    this.contextEnded(this.connection());
  }

  /**
   * Closes the socket (`close_socket`, then a normal close frame) and ends any synthesis still running.
   * Idempotent. A later `synthesize` opens a new socket (closed again when idle).
   */
  async close(): Promise<void> {
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    const c = this.conn;
    this.conn = undefined;
    if (c) await c.close();
  }

  /** The socket to put a new context on: the current one while it is connecting or open, else a new one. */
  private connection(): Connection {
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    if (this.conn?.isUsable()) return this.conn;
    const conn = new Connection(this.url(), this.o.apiKey, this.o.connectTimeoutMs ?? ELEVENLABS_DEFAULT_CONNECT_TIMEOUT_MS, () => {
      if (this.conn === conn) {
        this.conn = undefined;
        clearTimeout(this.idleTimer);
        this.idleTimer = undefined;
      }
    });
    this.conn = conn;
    return conn;
  }

  /** Starts the idle clock once the current socket carries no context. */
  private contextEnded(conn: Connection): void {
    if (conn !== this.conn || conn.contexts.size > 0) return;
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => {
      if (this.conn !== conn || conn.contexts.size > 0) return;
      this.conn = undefined;
      this.idleTimer = undefined;
      void conn.close();
    }, this.idleCloseMs);
    this.idleTimer.unref();
  }

  private voiceSettings(): { voice_settings?: Record<string, number> } {
    const voiceSettings: Record<string, number> = {};
    if (this.o.stability !== undefined) voiceSettings.stability = this.o.stability;
    if (this.o.similarityBoost !== undefined) voiceSettings.similarity_boost = this.o.similarityBoost;
    return Object.keys(voiceSettings).length > 0 ? { voice_settings: voiceSettings } : {};
  }
}

interface ServerMessage {
  readonly audio?: string | null;
  readonly isFinal?: boolean | null;
  readonly is_final?: boolean | null;
  readonly contextId?: string;
  readonly context_id?: string;
  readonly error?: string;
  readonly message?: string;
  readonly code?: number | string;
}

/** One synthesis on the shared socket: its frames, its framing state, its response deadline. */
class Context {
  readonly inbox = new Inbox<AudioFrame>();
  /** Called when the server stays silent past the response deadline. */
  onStall: () => void = () => {};
  /** Called when the socket fails under the context; true = the context moved to another socket (no failure). */
  onConnectionLost: (err: ProviderError) => boolean = () => false;
  /** True once any audio for this context arrived. */
  receivedAudio = false;
  private stallTimer: NodeJS.Timeout | undefined;
  private stallMs: number | undefined;

  constructor(
    readonly id: string,
    private readonly chunker: PcmChunker,
  ) {}

  audio(bytes: Uint8Array): void {
    this.receivedAudio = true;
    const frames = this.chunker.push(bytes);
    if (frames.length > 0) this.inbox.push(...frames);
    this.rearm();
  }

  /** The server's isFinal: flush the partial frame and end. */
  finish(): void {
    clearTimeout(this.stallTimer);
    const tail = this.chunker.end();
    if (tail.length > 0) this.inbox.push(...tail);
    this.inbox.end();
  }

  fail(err: unknown): void {
    clearTimeout(this.stallTimer);
    this.inbox.fail(err);
  }

  /** Starts the response deadline (all text sent); every server message for this context restarts it. */
  armStallTimer(ms: number): void {
    this.stallMs = ms;
    this.rearm();
  }

  disarmStallTimer(): void {
    clearTimeout(this.stallTimer);
    this.stallMs = undefined;
  }

  dispose(): void {
    clearTimeout(this.stallTimer);
    this.stallMs = undefined;
    this.inbox.end();
  }

  rearm(): void {
    if (this.stallMs === undefined) return;
    clearTimeout(this.stallTimer);
    this.stallTimer = setTimeout(() => this.onStall(), this.stallMs);
  }
}

/** One multi-context socket: connects, routes server messages to contexts by `contextId`, maps failures. */
class Connection {
  /** Contexts being listened to, by id. A context leaves on isFinal, on failure, or when its consumer stops. */
  readonly contexts = new Map<string, Context>();
  /** Resolves when the socket is open; rejects (with the ProviderError contexts were failed with) if it never opens. */
  readonly ready: Promise<void>;
  private readonly ws: WebSocket;
  private readonly redact: (s: string) => string;
  private opened = false;
  /** Something went out on it: the first message (a context's init) has been sent. */
  private sentAny = false;
  private failure: ProviderError | undefined;
  private lastError: Error | undefined;
  private settleReady!: { resolve: () => void; reject: (err: unknown) => void };

  constructor(url: string, apiKey: string, connectTimeoutMs: number, onGone: () => void) {
    this.redact = (s) => redactSecret(s, apiKey);
    this.ready = new Promise<void>((resolve, reject) => (this.settleReady = { resolve, reject }));
    this.ready.catch(() => {}); // observed by each context's sender; may have none
    this.ws = new WebSocket(url, { headers: { 'xi-api-key': apiKey }, handshakeTimeout: connectTimeoutMs, perMessageDeflate: false });
    const ws = this.ws;
    ws.on('unexpected-response', (req, res) => {
      const status = res.statusCode ?? 0;
      this.fatal(new ProviderError(PROVIDER, `WebSocket upgrade refused with HTTP ${status}`, isRetryableStatus(status)));
      res.resume();
      req.destroy();
    });
    ws.on('error', (err) => {
      this.lastError = err;
    });
    ws.on('open', () => {
      this.opened = true;
      this.settleReady.resolve();
    });
    ws.on('message', (data, isBinary) => {
      if (!isBinary) this.onMessage(String(data));
    });
    ws.on('close', (code, reasonBuf) => {
      const reason = this.redact(reasonBuf.toString('utf8')).slice(0, 200);
      if (code === CLOSE_POLICY_VIOLATION) {
        this.fatal(new ProviderError(PROVIDER, `server closed the connection: ${reason || 'policy violation'}`, false));
      } else if (!this.opened) {
        this.fatal(new ProviderError(PROVIDER, `cannot connect: ${this.redact(this.lastError?.message ?? `close code ${code}`)}`, true, { cause: this.lastError }));
      } else {
        const why = reason || (this.lastError ? this.redact(this.lastError.message) : `close code ${code}`);
        this.fatal(new ProviderError(PROVIDER, `connection dropped mid-stream (${why})`, true));
      }
      onGone();
    });
  }

  /** New contexts may go on this socket (it is connecting or open, and nothing has failed it). */
  isUsable(): boolean {
    return this.failure === undefined && (this.ws.readyState === WebSocket.CONNECTING || this.ws.readyState === WebSocket.OPEN);
  }

  isOpen(): boolean {
    return this.failure === undefined && this.ws.readyState === WebSocket.OPEN;
  }

  send(msg: Record<string, unknown>): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    this.ws.send(JSON.stringify(msg));
    this.sentAny = true;
  }

  /** Drops the connection at once (no close handshake); listening contexts fail as dropped. */
  terminate(): void {
    this.ws.terminate();
  }

  /** Ends every context quietly and closes the socket cleanly; resolves once it is closed (or dropped). */
  async close(): Promise<void> {
    for (const ctx of this.contexts.values()) ctx.dispose();
    this.contexts.clear();
    const ws = this.ws;
    if (ws.readyState === WebSocket.CLOSED) return;
    const closed = new Promise<void>((resolve) => {
      const grace = setTimeout(() => {
        ws.terminate();
        resolve();
      }, CLOSE_GRACE_MS).unref();
      ws.once('close', () => {
        clearTimeout(grace);
        resolve();
      });
    });
    if (ws.readyState === WebSocket.OPEN) {
      // The first message on a socket must open a context: one never used (prepared, then idle) just closes.
      if (this.sentAny) ws.send(JSON.stringify({ close_socket: true }));
      ws.close(1000);
    } else if (ws.readyState === WebSocket.CONNECTING) {
      ws.terminate();
    }
    await closed;
  }

  /** Fails the socket: every listening context gets `err` (the first failure wins), and nothing new goes on it. */
  private fatal(err: ProviderError): void {
    this.failure ??= err;
    const failure = this.failure;
    const contexts = [...this.contexts.values()];
    this.contexts.clear();
    for (const ctx of contexts) if (!ctx.onConnectionLost(failure)) ctx.fail(failure);
    this.settleReady.reject(this.failure);
    if (this.ws.readyState !== WebSocket.CLOSED) this.ws.terminate();
  }

  private onMessage(text: string): void {
    let msg: ServerMessage;
    try {
      msg = JSON.parse(text) as ServerMessage;
    } catch {
      return this.fatal(new ProviderError(PROVIDER, 'server sent a non-JSON message', true));
    }
    if (msg === null || typeof msg !== 'object') return this.fatal(new ProviderError(PROVIDER, 'server sent a non-object message', true));
    const id = typeof msg.contextId === 'string' ? msg.contextId : typeof msg.context_id === 'string' ? msg.context_id : undefined;
    const final = msg.isFinal === true || msg.is_final === true;
    const hasAudio = typeof msg.audio === 'string' && msg.audio.length > 0;
    if (!hasAudio && !final && (typeof msg.error === 'string' || typeof msg.message === 'string')) {
      const what = [msg.error, msg.message].filter((s): s is string => typeof s === 'string').join(': ');
      const err = new ProviderError(PROVIDER, `server error: ${this.redact(what).slice(0, 300)}`, isRetryableServerError(msg.error ?? ''));
      if (id === undefined) return this.fatal(err); // about the socket: every context is affected
      const ctx = this.contexts.get(id);
      if (ctx) {
        this.contexts.delete(id);
        ctx.fail(err);
      }
      return; // about a context nobody listens to any more: nothing to do
    }
    // Untagged audio cannot be attributed; audio for a context that was closed (barge-in) is dropped here.
    const ctx = id === undefined ? undefined : this.contexts.get(id);
    if (!ctx) return;
    if (hasAudio) ctx.audio(Buffer.from(msg.audio as string, 'base64'));
    else ctx.rearm();
    if (final) {
      this.contexts.delete(ctx.id);
      ctx.finish();
    }
  }
}

/** HTTP statuses worth retrying elsewhere: timeouts, rate limits, server-side failures. */
function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500 || status === 0;
}

/** Server error messages about credentials, permissions or bad input will fail the same way on retry. */
function isRetryableServerError(error: string): boolean {
  return !/auth|api.?key|permission|invalid|unsupported|not.?found|quota/i.test(error);
}

/** Replaces every occurrence of `secret` with `***`. */
function redactSecret(text: string, secret: string): string {
  return secret.length > 0 ? text.split(secret).join('***') : text;
}

/**
 * Single-consumer async queue bridging socket events to the generator. The first `fail` or `end` wins; items
 * pushed before it are still delivered, except that a failure is reported as soon as the queue is drained.
 */
class Inbox<T> {
  private readonly items: T[] = [];
  private waiter: ((r: IteratorResult<T>) => void) | undefined;
  private failWaiter: ((err: unknown) => void) | undefined;
  private state: { done: false } | { done: true; error?: unknown } = { done: false };

  push(...values: T[]): void {
    if (this.state.done) return;
    for (const v of values) this.items.push(v);
    this.wake();
  }

  fail(error: unknown): void {
    if (this.state.done) return;
    this.state = { done: true, error };
    this.wake();
  }

  end(): void {
    if (this.state.done) return;
    this.state = { done: true };
    this.wake();
  }

  next(): Promise<IteratorResult<T>> {
    if (this.items.length > 0 || this.state.done) return this.settle();
    return new Promise((resolve, reject) => {
      this.waiter = resolve;
      this.failWaiter = reject;
    });
  }

  private settle(): Promise<IteratorResult<T>> {
    if (this.items.length > 0) return Promise.resolve({ done: false, value: this.items.shift()! });
    if (this.state.done && 'error' in this.state) return Promise.reject(this.state.error);
    return Promise.resolve({ done: true, value: undefined });
  }

  private wake(): void {
    const resolve = this.waiter;
    const reject = this.failWaiter;
    if (!resolve || !reject) return;
    this.waiter = undefined;
    this.failWaiter = undefined;
    this.settle().then(resolve, reject);
  }
}
