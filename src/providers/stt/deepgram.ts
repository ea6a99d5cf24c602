/**
 * Cloud STT: Deepgram live streaming (`wss://api.deepgram.com/v1/listen`, Nova models).
 *
 * One WebSocket per call, opened lazily on the first utterance and reused for every later one (reopened
 * if it dropped or the audio rate changed). Between utterances the socket is kept open with KeepAlive
 * messages. At the end of an utterance a Finalize message flushes Deepgram's buffer; the final transcript
 * is the concatenation of the utterance's `is_final` segments, complete when a Results message with
 * `from_finalize: true` arrives (or after a bounded wait, since Deepgram only sends that flag when audio
 * was still buffered). Results are attributed to utterances by their audio timestamps, so a late answer
 * to a previous utterance's Finalize never leaks into the next utterance.
 */
import WebSocket, { type RawData } from 'ws';
import { z } from 'zod';
import type { AudioFrame } from '../../audio/frame.js';
import { pcm16ToBytesLE } from '../../audio/pcm16.js';
import { ProviderError, type CallOptions, type SttProvider, type TranscriptEvent } from '../types.js';
import { pumpUtterance, stopUtterance, type UtteranceSlot } from './utterance-pump.js';

const PROVIDER = 'deepgram';

/** Deepgram's documented defaults for a US-English telephone agent. */
const DEFAULT_BASE_URL = 'wss://api.deepgram.com';
const DEFAULT_MODEL = 'nova-2';
const DEFAULT_LANGUAGE = 'en-US';
/** Silence (ms) after which Deepgram marks speech_final; short, since Parley's own VAD ends the turn. */
const DEFAULT_ENDPOINTING_MS = 300;

/** Upgrade deadline: a healthy handshake takes well under a second; past this, fail over instead of stalling the caller. */
const DEFAULT_CONNECT_TIMEOUT_MS = 5000;
/**
 * KeepAlive tick. Deepgram closes a socket after 10 s without audio or KeepAlive (NET-0001) and asks for one
 * every 3–5 s; a KeepAlive goes out on each tick that saw no audio, so the longest silent gap is < 2 ticks = 8 s.
 */
const DEFAULT_KEEPALIVE_MS = 4000;
/**
 * How long to wait for the `from_finalize` Results after Finalize. Deepgram usually answers within a few
 * hundred ms, but sends no such message when nothing was buffered, so waiting longer only delays the turn.
 */
const DEFAULT_FINALIZE_TIMEOUT_MS = 1500;
/** Audio per WebSocket message to Deepgram. */
const AUDIO_BATCH_MS = 100;

/** After CloseStream, how long to wait for Deepgram's Metadata + close frame before dropping the socket. */
const CLOSE_TIMEOUT_MS = 2000;
/** Results ending within this much (s) of an utterance's first audio belong to the previous utterance. */
const STALE_EPSILON_SEC = 0.005;

/** Options for {@link DeepgramStt}, as accepted from a tenant file by {@link deepgramSttOptionsSchema}. */
export interface DeepgramSttOptions {
  /** Deepgram API key (sent as `Authorization: Token <key>`; never logged or put in error messages). */
  apiKey: string;
  /** `ws://` or `wss://` origin of the API. Default `wss://api.deepgram.com`. */
  baseUrl?: string;
  /** Model name. Default `nova-2`. */
  model?: string;
  /** BCP-47 language. Default `en-US`. */
  language?: string;
  /** Deepgram endpointing silence in ms. Default 300. */
  endpointingMs?: number;
  /** WebSocket upgrade deadline in ms. Default 5000. */
  connectTimeoutMs?: number;
  /** Interval between idle KeepAlive checks in ms. Default 4000 (tests use less). */
  keepAliveMs?: number;
  /** Bounded wait for the `from_finalize` answer in ms. Default 1500. */
  finalizeTimeoutMs?: number;
}

/** Tenant-file schema for {@link DeepgramSttOptions}. */
export const deepgramSttOptionsSchema = z.strictObject({
  apiKey: z.string().min(1),
  baseUrl: z
    .string()
    .regex(/^wss?:\/\/[^\s?#]+$/, 'a ws:// or wss:// URL without query or fragment')
    .optional(),
  model: z.string().regex(/^[A-Za-z0-9._-]+$/, 'a Deepgram model name like nova-2').optional(),
  language: z.string().regex(/^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$/, 'a language tag like en-US').optional(),
  endpointingMs: z.number().int().min(10).max(10_000).optional(),
  connectTimeoutMs: z.number().int().min(100).max(60_000).optional(),
  keepAliveMs: z.number().int().min(10).max(5000).optional(),
  finalizeTimeoutMs: z.number().int().min(10).max(10_000).optional(),
}) satisfies z.ZodType<DeepgramSttOptions>;

/** The parts of a Deepgram `Results` message this provider reads. */
interface DeepgramResults {
  readonly type: 'Results';
  readonly start?: number;
  readonly duration?: number;
  readonly is_final?: boolean;
  readonly speech_final?: boolean;
  readonly from_finalize?: boolean;
  readonly channel?: { readonly alternatives?: readonly { readonly transcript?: string; readonly confidence?: number }[] };
}

/** Receives a live socket's results and its death, for the utterance currently using it. */
interface SocketListener {
  onResults(r: DeepgramResults): void;
  onDrop(err: ProviderError): void;
}

/** Pooled 100 ms message buffers kept per socket; more are only needed while the socket is backed up. */
const MAX_SPARE_BATCHES = 4;

/** One open Deepgram stream. */
class LiveSocket {
  /** Seconds of audio sent on this socket (Deepgram's result timestamps count the same way). */
  audioSentSec = 0;
  listener: SocketListener | undefined;
  /** Set once the socket is unusable. */
  dead: ProviderError | undefined;
  private audioSinceTick = false;
  /** Samples per audio message (100 ms at the socket's rate). */
  private readonly batchSamples: number;
  /** The message being filled; `batchLen` samples of it are pending. */
  private batch: Int16Array | undefined;
  private batchLen = 0;
  /** Message buffers free for reuse: ws has written (or given up on) everything sent from them. */
  private readonly spare: Int16Array[] = [];
  /** Buffers handed to ws.send(), oldest first; ws completes sends in order. */
  private readonly inFlight: Int16Array[] = [];
  /** One callback for every audio send (no closure per message): the oldest buffer in flight is free again. */
  private readonly onAudioSent = (): void => {
    const done = this.inFlight.shift();
    if (done !== undefined && this.spare.length < MAX_SPARE_BATCHES) this.spare.push(done);
  };
  private readonly timer: NodeJS.Timeout;
  private readonly closed: Promise<void>;

  constructor(
    readonly ws: WebSocket,
    readonly sampleRateHz: number,
    keepAliveMs: number,
    redact: (s: string) => string,
  ) {
    this.batchSamples = Math.max(1, Math.round((sampleRateHz * AUDIO_BATCH_MS) / 1000));
    this.closed = new Promise((resolve) => ws.once('close', () => resolve()));
    ws.on('message', (data: RawData, isBinary: boolean) => {
      if (isBinary) return;
      let msg: unknown;
      try {
        msg = JSON.parse(data.toString());
      } catch {
        return; // not ours to interpret
      }
      if (typeof msg === 'object' && msg !== null && (msg as { type?: unknown }).type === 'Results') {
        this.listener?.onResults(msg as DeepgramResults);
      }
    });
    ws.on('close', (code: number, reason: Buffer) => {
      clearInterval(this.timer);
      const why = reason.length > 0 ? `: ${redact(reason.toString()).slice(0, 200)}` : '';
      this.dead ??= new ProviderError(PROVIDER, `connection closed (code ${code}${why})`, true);
      this.listener?.onDrop(this.dead);
    });
    ws.on('error', () => undefined); // 'close' follows and carries the failure
    this.timer = setInterval(() => {
      this.flushAudio(); // never sit on audio longer than a keep-alive period
      if (!this.audioSinceTick && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: 'KeepAlive' }));
      this.audioSinceTick = false;
    }, keepAliveMs);
    this.timer.unref();
  }

  /**
   * Audio goes out in ~100 ms messages, not one per 20 ms frame: a WebSocket frame and a system call
   * per frame was the largest cost of a call under load. Finalize/CloseStream flush the batch first,
   * so the end of an utterance reaches Deepgram without delay.
   *
   * Per frame this only copies the samples into the pending message buffer. Message buffers are reused
   * once ws reports their send complete (it may hold a sent buffer for a while, e.g. while compressing).
   * @param frame audio at this socket's `sampleRateHz` (the caller checks).
   */
  sendAudio(frame: AudioFrame): void {
    const samples = frame.samples;
    const n = samples.length;
    if (n === 0) return;
    this.audioSentSec += n / frame.sampleRateHz;
    this.audioSinceTick = true;
    if (n > this.batchSamples) {
      // Larger than a message (not a 20 ms frame): goes out on its own, straight from the immutable frame.
      this.flushAudio();
      if (this.ws.readyState === WebSocket.OPEN) this.ws.send(pcm16ToBytesLE(samples), { binary: true });
      return;
    }
    let batch = this.batch;
    if (batch !== undefined && this.batchLen + n > batch.length) {
      this.flushAudio();
      batch = undefined;
    }
    if (batch === undefined) batch = this.batch = this.spare.pop() ?? new Int16Array(this.batchSamples);
    batch.set(samples, this.batchLen);
    this.batchLen += n;
    if (this.batchLen === batch.length) this.flushAudio();
  }

  private flushAudio(): void {
    const batch = this.batch;
    const len = this.batchLen;
    if (batch === undefined || len === 0) return;
    this.batchLen = 0;
    if (this.ws.readyState !== WebSocket.OPEN) return; // the socket is gone: drop the audio, keep the buffer
    this.batch = undefined;
    this.inFlight.push(batch);
    this.ws.send(pcm16ToBytesLE(len === batch.length ? batch : batch.subarray(0, len)), { binary: true }, this.onAudioSent);
  }

  sendControl(type: 'Finalize' | 'CloseStream'): void {
    this.flushAudio();
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify({ type }));
  }

  /** Sends CloseStream and waits (bounded) for Deepgram to close; then the socket is gone either way. */
  async shutdown(): Promise<void> {
    clearInterval(this.timer);
    this.dead ??= new ProviderError(PROVIDER, 'provider closed', false);
    if (this.ws.readyState === WebSocket.OPEN) {
      this.sendControl('CloseStream');
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.closed, new Promise<void>((r) => (timer = setTimeout(r, CLOSE_TIMEOUT_MS)))]);
      clearTimeout(timer);
    }
    if (this.ws.readyState !== WebSocket.CLOSED) this.ws.terminate();
  }
}

/**
 * Deepgram live-streaming STT. One instance per call; utterances one at a time over one WebSocket.
 * Failures surface as {@link ProviderError}: connection problems, HTTP 408/429/5xx on upgrade and a socket
 * dropping mid-utterance are retryable; other rejected upgrades (401, 403, 400) are not.
 */
export class DeepgramStt implements SttProvider {
  readonly name = PROVIDER;
  private readonly baseUrl: string;
  private readonly model: string;
  private readonly language: string;
  private readonly endpointingMs: number;
  private readonly connectTimeoutMs: number;
  private readonly keepAliveMs: number;
  private readonly finalizeTimeoutMs: number;
  private socket: LiveSocket | undefined;
  /** A connection prepare() opened ahead of the first utterance, until it is the socket (or failed). */
  private preparing: { readonly sampleRateHz: number; readonly done: Promise<void>; readonly abort: AbortController } | undefined;
  private readonly slot: UtteranceSlot = { current: undefined };
  private closed = false;

  /** @param options see {@link DeepgramSttOptions}; validate tenant input with {@link deepgramSttOptionsSchema} first. */
  constructor(private readonly options: DeepgramSttOptions) {
    this.baseUrl = (options.baseUrl ?? DEFAULT_BASE_URL).replace(/\/+$/, '');
    this.model = options.model ?? DEFAULT_MODEL;
    this.language = options.language ?? DEFAULT_LANGUAGE;
    this.endpointingMs = options.endpointingMs ?? DEFAULT_ENDPOINTING_MS;
    this.connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    this.keepAliveMs = options.keepAliveMs ?? DEFAULT_KEEPALIVE_MS;
    this.finalizeTimeoutMs = options.finalizeTimeoutMs ?? DEFAULT_FINALIZE_TIMEOUT_MS;
  }

  /**
   * Streams one utterance to Deepgram. Yields a cumulative `partial` for each interim result and, once
   * `audio` ends, exactly one `final`. On abort it returns without a final.
   */
  async *transcribe(audio: AsyncIterable<AudioFrame>, o: CallOptions): AsyncIterable<TranscriptEvent> {
    if (this.closed) throw new ProviderError(PROVIDER, 'transcribe() after close()', false);
    yield* pumpUtterance(PROVIDER, (signal, emit) => this.runUtterance(audio, signal, emit), o.signal, this.slot);
  }

  /**
   * Opens the call's socket now, so that the first utterance does not wait for the TLS and WebSocket
   * handshakes (it is kept open with KeepAlive, as between utterances). A failure is dropped: the first
   * utterance connects again and reports it.
   */
  prepare(sampleRateHz: number): void {
    if (this.closed || this.socket || this.preparing) return;
    const abort = new AbortController();
    const done = this.connect(sampleRateHz, abort.signal).then(
      (socket) => {
        if (this.closed || this.socket) void socket.shutdown();
        else this.socket = socket;
      },
      () => undefined,
    );
    const preparing = { sampleRateHz, done, abort };
    this.preparing = preparing;
    void done.finally(() => {
      if (this.preparing === preparing) this.preparing = undefined;
    });
  }

  /** Sends CloseStream, waits briefly for Deepgram to close the socket, and stops keep-alives. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.preparing?.abort.abort();
    await this.preparing?.done;
    await stopUtterance(this.slot);
    const socket = this.socket;
    this.socket = undefined;
    await socket?.shutdown();
  }

  private redact(s: string): string {
    return this.options.apiKey.length > 0 ? s.split(this.options.apiKey).join('[redacted]') : s;
  }

  /** The call's socket at `sampleRateHz`: reused when open at that rate, otherwise (re)opened. */
  private async acquire(sampleRateHz: number, signal: AbortSignal): Promise<LiveSocket> {
    // A connection prepare() started is on its way: wait for it rather than open a second one.
    if (this.preparing?.sampleRateHz === sampleRateHz) await this.preparing.done;
    const current = this.socket;
    if (current && !current.dead && current.ws.readyState === WebSocket.OPEN && current.sampleRateHz === sampleRateHz) {
      return current;
    }
    this.socket = undefined;
    if (current) void current.shutdown();
    const socket = await this.connect(sampleRateHz, signal);
    if (this.closed) {
      await socket.shutdown();
      throw new ProviderError(PROVIDER, 'provider closed', false);
    }
    // A connection prepare() opened at another rate may have landed meanwhile: this one replaces it.
    const landed = this.socket as LiveSocket | undefined; // (set by prepare() across the await)
    if (landed && landed !== socket) void landed.shutdown();
    this.socket = socket;
    return socket;
  }

  private connect(sampleRateHz: number, signal: AbortSignal): Promise<LiveSocket> {
    const query = new URLSearchParams({
      encoding: 'linear16',
      sample_rate: String(sampleRateHz),
      channels: '1',
      model: this.model,
      language: this.language,
      interim_results: 'true',
      punctuate: 'true',
      smart_format: 'true',
      endpointing: String(this.endpointingMs),
    });
    const url = `${this.baseUrl}/v1/listen?${query.toString()}`;
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, {
        headers: { Authorization: `Token ${this.options.apiKey}` },
        handshakeTimeout: this.connectTimeoutMs,
        // PCM does not compress: deflating every audio message would only cost CPU.
        perMessageDeflate: false,
      });
      let settled = false;
      const onAbort = (): void => fail(new ProviderError(PROVIDER, 'connect aborted', true));
      function fail(err: ProviderError): void {
        if (settled) return;
        settled = true;
        signal.removeEventListener('abort', onAbort);
        ws.removeAllListeners('open');
        ws.on('error', () => undefined);
        if (ws.readyState !== WebSocket.CLOSED) ws.terminate();
        reject(err);
      }
      signal.addEventListener('abort', onAbort, { once: true });
      ws.on('error', (err: Error) => fail(new ProviderError(PROVIDER, `connection failed: ${this.redact(err.message)}`, true)));
      ws.on('close', () => fail(new ProviderError(PROVIDER, 'connection closed during the handshake', true)));
      ws.on('unexpected-response', (_req, res) => {
        const status = res.statusCode ?? 0;
        const dgError = res.headers['dg-error'];
        res.resume();
        const detail = typeof dgError === 'string' && dgError.length > 0 ? ` (${this.redact(dgError).slice(0, 200)})` : '';
        const retryable = status === 408 || status === 429 || status >= 500;
        fail(new ProviderError(PROVIDER, `upgrade rejected with HTTP ${status}${detail}`, retryable));
      });
      ws.once('open', () => {
        if (settled) return;
        settled = true;
        signal.removeEventListener('abort', onAbort);
        ws.removeAllListeners('error');
        ws.removeAllListeners('close');
        ws.removeAllListeners('unexpected-response');
        resolve(new LiveSocket(ws, sampleRateHz, this.keepAliveMs, (s) => this.redact(s)));
      });
    });
  }

  /**
   * Streams one utterance; emits partials and, unless aborted, one final.
   *
   * The per-frame path is `await frames.next()` and a copy into the pending audio message: no promise
   * race per frame. Abort and a dropped socket are raced once per utterance against the whole stream
   * instead, so either still ends the utterance at once while the audio source is stalled; the stream
   * loop, when the source finally answers, sees `stopped` and leaves without touching the socket.
   */
  private async runUtterance(audio: AsyncIterable<AudioFrame>, signal: AbortSignal, emit: (ev: TranscriptEvent) => void): Promise<void> {
    let socket: LiveSocket | undefined;
    let startSec = 0;
    const finals: string[] = [];
    let confidenceSum = 0;
    let lastPartial = '';
    let dropped: ProviderError | undefined;
    let flushed: (() => void) | undefined; // resolves the Finalize wait
    /** Set once the utterance is over (aborted, dropped or done): the stream loop must stop touching anything. */
    let stopped = false;
    let stoppedBy: 'aborted' | 'dropped' | undefined;
    let interrupt: (why: 'aborted' | 'dropped') => void = () => undefined;
    const interrupted = new Promise<void>((resolve) => {
      interrupt = (why) => {
        if (stopped) return;
        stopped = true;
        stoppedBy = why;
        resolve();
      };
    });
    const onAbort = (): void => interrupt('aborted');
    const listener: SocketListener = {
      onResults(r) {
        const end = (r.start ?? Number.POSITIVE_INFINITY) + (r.duration ?? 0);
        if (end <= startSec + STALE_EPSILON_SEC) return; // answers a previous utterance
        const alt = r.channel?.alternatives?.[0];
        const text = (alt?.transcript ?? '').trim();
        if (r.is_final) {
          if (text.length > 0) {
            finals.push(text);
            confidenceSum += alt?.confidence ?? 0;
          }
          if (r.from_finalize) flushed?.();
          return;
        }
        const partial = [...finals, text].filter((t) => t.length > 0).join(' ');
        if (partial.length > 0 && partial !== lastPartial) {
          lastPartial = partial;
          emit({ kind: 'partial', text: partial });
        }
      },
      onDrop(err) {
        dropped = err;
        interrupt('dropped');
      },
    };
    const frames = audio[Symbol.asyncIterator]();
    /** The utterance itself; every `stopped` check follows an await, since only then can it have changed. */
    const stream = async (): Promise<void> => {
      for (;;) {
        const next = await frames.next();
        if (stopped) return;
        if (next.done === true) break;
        const frame = next.value;
        if (socket === undefined) {
          const s = await this.acquire(frame.sampleRateHz, signal);
          if (stopped) return; // the socket stays with the provider for the next utterance
          socket = s;
          startSec = s.audioSentSec;
          s.listener = listener;
        } else if (frame.sampleRateHz !== socket.sampleRateHz) {
          throw new ProviderError(PROVIDER, `sample rate changed mid-utterance (${socket.sampleRateHz} → ${frame.sampleRateHz} Hz)`, false);
        }
        socket.sendAudio(frame);
      }
      if (socket === undefined) {
        emit({ kind: 'final', text: '' }); // no audio: nothing to ask Deepgram
        return;
      }
      const confirmed = new Promise<void>((resolve) => (flushed = resolve));
      socket.sendControl('Finalize');
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, this.finalizeTimeoutMs)));
      await Promise.race([confirmed, timeout, interrupted]);
      clearTimeout(timer);
      if (stopped) return;
      const text = finals.join(' ');
      emit(finals.length > 0 ? { kind: 'final', text, confidence: confidenceSum / finals.length } : { kind: 'final', text });
    };
    if (signal.aborted) interrupt('aborted');
    else signal.addEventListener('abort', onAbort, { once: true });
    try {
      // The only race of the utterance. A stream still parked on the audio source after abort or a drop
      // settles later unobserved; its promise is handled here, so a late rejection is not unhandled.
      if (!stopped) await Promise.race([stream(), interrupted]);
      if (stoppedBy === 'dropped') throw dropped;
    } finally {
      stopped = true;
      signal.removeEventListener('abort', onAbort);
      if (socket) {
        // An abandoned utterance still flushes Deepgram's buffer; its late results are filtered by timestamp.
        if (signal.aborted) socket.sendControl('Finalize');
        if (socket.listener === listener) socket.listener = undefined;
        if (socket.dead && this.socket === socket) this.socket = undefined;
      }
      // Don't wait for a source blocked in next(); just tell it we're done.
      if (signal.aborted) void Promise.resolve(frames.return?.()).catch(() => undefined);
    }
  }
}
