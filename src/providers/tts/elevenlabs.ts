/**
 * ElevenLabs streaming TTS over the stream-input WebSocket API
 * (`wss://api.elevenlabs.io/v1/text-to-speech/{voice_id}/stream-input`): one socket per `synthesize` call (one
 * sentence), text chunks sent as they arrive, base64 audio decoded and cut into ~20 ms frames as it arrives.
 *
 * Wire protocol: first message `{text: ' ', voice_settings}`, then `{text: chunk + ' ', flush: true}` per chunk,
 * then `{text: ''}` which ends the input; the server sends `{audio, isFinal, normalizedAlignment}` messages and
 * finally `{isFinal: true}`. Errors arrive as `{message, error, code}` and/or a close frame.
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

/** Text-to-speech through ElevenLabs' stream-input WebSocket. */
export class ElevenLabsTts implements TtsProvider {
  readonly name = PROVIDER;
  readonly sampleRateHz: number;
  private readonly o: ElevenLabsTtsOptions;
  private readonly format: ElevenLabsOutputFormat;

  constructor(o: ElevenLabsTtsOptions) {
    this.o = o;
    this.format = o.outputFormat ?? 'ulaw_8000';
    this.sampleRateHz = FORMAT_RATE_HZ[this.format];
  }

  /** Endpoint URL for one synthesis. Carries no secret (the key travels in the `xi-api-key` header). */
  url(): string {
    const base = (this.o.baseUrl ?? 'wss://api.elevenlabs.io').replace(/\/+$/, '');
    const q = new URLSearchParams({ model_id: this.o.model ?? 'eleven_flash_v2_5', output_format: this.format });
    return `${base}/v1/text-to-speech/${encodeURIComponent(this.o.voiceId)}/stream-input?${q}`;
  }

  async *synthesize(text: AsyncIterable<string>, o: CallOptions): AsyncIterable<AudioFrame> {
    if (o.signal.aborted) return;
    const inbox = new Inbox<AudioFrame>();
    const chunker = new PcmChunker({ sampleRateHz: this.sampleRateHz, encoding: this.format === 'ulaw_8000' ? 'mulaw' : 'pcm16le' });
    const redact = (s: string): string => redactSecret(s, this.o.apiKey);
    const ws = new WebSocket(this.url(), {
      headers: { 'xi-api-key': this.o.apiKey },
      handshakeTimeout: this.o.connectTimeoutMs ?? ELEVENLABS_DEFAULT_CONNECT_TIMEOUT_MS,
      perMessageDeflate: false,
    });
    let final = false;
    let lastError: Error | undefined;
    let stallTimer: NodeJS.Timeout | undefined;
    const responseTimeoutMs = this.o.responseTimeoutMs ?? ELEVENLABS_DEFAULT_RESPONSE_TIMEOUT_MS;
    const armStallTimer = (): void => {
      clearTimeout(stallTimer);
      stallTimer = setTimeout(() => {
        inbox.fail(new ProviderError(PROVIDER, `no audio from the server for ${responseTimeoutMs} ms`, true));
        ws.terminate();
      }, responseTimeoutMs);
    };
    let inputDone = false;
    let opened = false;
    ws.once('open', () => (opened = true));

    const onAbort = (): void => {
      inbox.end();
      ws.terminate();
    };
    o.signal.addEventListener('abort', onAbort, { once: true });

    ws.on('unexpected-response', (req, res) => {
      const status = res.statusCode ?? 0;
      inbox.fail(new ProviderError(PROVIDER, `WebSocket upgrade refused with HTTP ${status}`, isRetryableStatus(status)));
      res.resume();
      req.destroy();
    });
    ws.on('error', (err) => {
      lastError = err;
    });
    ws.on('open', () => {
      void this.sendText(ws, text, o.signal).then(
        () => {
          inputDone = true;
          if (!final) armStallTimer();
        },
        (err: unknown) => {
          // The text source failed (the caller's error, not ours): surface it unchanged.
          inbox.fail(err);
          ws.terminate();
        },
      );
    });
    ws.on('message', (data, isBinary) => {
      if (isBinary) return;
      let msg: ServerMessage;
      try {
        msg = JSON.parse(String(data)) as ServerMessage;
      } catch {
        inbox.fail(new ProviderError(PROVIDER, 'server sent a non-JSON message', true));
        ws.terminate();
        return;
      }
      if (inputDone) armStallTimer();
      if (typeof msg.audio === 'string' && msg.audio.length > 0) {
        const frames = chunker.push(Buffer.from(msg.audio, 'base64'));
        if (frames.length > 0) inbox.push(...frames);
      } else if (typeof msg.error === 'string' || (typeof msg.message === 'string' && msg.isFinal !== true)) {
        const what = [msg.error, msg.message].filter((s): s is string => typeof s === 'string').join(': ');
        inbox.fail(new ProviderError(PROVIDER, `server error: ${redact(what).slice(0, 300)}`, isRetryableServerError(msg.error ?? '')));
        ws.terminate();
        return;
      }
      if (msg.isFinal === true) {
        final = true;
        clearTimeout(stallTimer);
        const tail = chunker.end();
        if (tail.length > 0) inbox.push(...tail);
        inbox.end();
        ws.close(1000);
      }
    });
    ws.on('close', (code, reasonBuf) => {
      clearTimeout(stallTimer);
      if (final) return inbox.end();
      const reason = redact(reasonBuf.toString('utf8')).slice(0, 200);
      if (code === CLOSE_POLICY_VIOLATION) {
        inbox.fail(new ProviderError(PROVIDER, `server closed the connection: ${reason || 'policy violation'}`, false));
      } else if (!opened) {
        inbox.fail(new ProviderError(PROVIDER, `cannot connect: ${redact(lastError?.message ?? `close code ${code}`)}`, true, { cause: lastError }));
      } else {
        const why = reason || (lastError ? redact(lastError.message) : `close code ${code}`);
        inbox.fail(new ProviderError(PROVIDER, `connection dropped mid-stream (${why})`, true));
      }
    });

    try {
      for (;;) {
        const r = await inbox.next();
        if (r.done || o.signal.aborted) return;
        yield r.value;
        if (o.signal.aborted) return;
      }
    } finally {
      clearTimeout(stallTimer);
      o.signal.removeEventListener('abort', onAbort);
      inbox.end();
      // Aborted, failed, or the consumer stopped early: never leave a socket (or a generation) running.
      if (ws.readyState !== WebSocket.CLOSED && !final) ws.terminate();
    }
  }

  /** Sends the init message, every text chunk, and the end-of-input marker. Stops quietly once the socket is gone. */
  private async sendText(ws: WebSocket, text: AsyncIterable<string>, signal: AbortSignal): Promise<void> {
    const live = (): boolean => ws.readyState === WebSocket.OPEN && !signal.aborted;
    const voiceSettings: Record<string, number> = {};
    if (this.o.stability !== undefined) voiceSettings.stability = this.o.stability;
    if (this.o.similarityBoost !== undefined) voiceSettings.similarity_boost = this.o.similarityBoost;
    ws.send(JSON.stringify({ text: ' ', ...(Object.keys(voiceSettings).length > 0 ? { voice_settings: voiceSettings } : {}) }));
    for await (const chunk of text) {
      if (!live()) return;
      const clean = chunk.replace(/\s+/g, ' ').trim();
      if (clean.length === 0) continue;
      // The API wants each chunk to end with a space. Parley passes sentence-sized chunks, so `flush` starts
      // generation now instead of waiting for the server's chunk_length_schedule (120+ characters).
      ws.send(JSON.stringify({ text: `${clean} `, flush: true }));
    }
    if (!live()) return;
    ws.send(JSON.stringify({ text: '' }));
  }
}

interface ServerMessage {
  readonly audio?: string | null;
  readonly isFinal?: boolean | null;
  readonly error?: string;
  readonly message?: string;
  readonly code?: number;
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
