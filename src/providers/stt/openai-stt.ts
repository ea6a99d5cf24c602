/**
 * Cloud or self-hosted batch STT through the OpenAI transcription API (`POST {baseUrl}/audio/transcriptions`).
 *
 * Each utterance is buffered, encoded as a 16-bit PCM WAV and uploaded as multipart form data once the
 * caller ends the turn; the response's `text` is the final. No partials. The same wire format is served by
 * self-hosted Whisper servers (faster-whisper-server / speaches, whisper.cpp's server), which usually need
 * no key: without `apiKey` no Authorization header is sent.
 */
import { z } from 'zod';
import type { AudioFrame } from '../../audio/frame.js';
import { concatPcm16 } from '../../audio/pcm16.js';
import { StreamingResampler } from '../../audio/resampler.js';
import { encodeWav } from '../../audio/wav.js';
import { preconnect } from '../http/connection-pool.js';
import { multipartForm, pooledPost, readWholeBody } from '../http/pooled-post.js';
import { ProviderError, type CallOptions, type SttProvider, type TranscriptEvent } from '../types.js';

const PROVIDER = 'openai';
const DEFAULT_BASE_URL = 'https://api.openai.com/v1';
const DEFAULT_MODEL = 'whisper-1';
/**
 * Whole-request deadline (upload + transcription). A turn of a phone call is seconds of audio that the API
 * transcribes in about a second; past this the caller has waited too long and failing over is better.
 */
const DEFAULT_TIMEOUT_MS = 15_000;
/** Error bodies can be large HTML pages from proxies; keep messages readable. */
const MAX_ERROR_DETAIL_CHARS = 200;
/** A transcript of one turn is a few KB of JSON; anything past this is not one. */
const MAX_RESPONSE_BYTES = 1 << 20;

/** Options for {@link OpenAiStt}, as accepted from a tenant file by {@link openAiSttOptionsSchema}. */
export interface OpenAiSttOptions {
  /** Bearer key; omit for keyless self-hosted servers. Never put in error messages. */
  apiKey?: string;
  /** API root including the version path. Default `https://api.openai.com/v1`. */
  baseUrl?: string;
  /** Model name. Default `whisper-1`. */
  model?: string;
  /** ISO-639-1 language of the audio (e.g. `en`); omitted lets the server detect it. */
  language?: string;
  /** Prompt biasing vocabulary and style (names, spellings). */
  prompt?: string;
  /** Deadline for each request in ms. Default 15000. */
  timeoutMs?: number;
}

/** Tenant-file schema for {@link OpenAiSttOptions}. */
export const openAiSttOptionsSchema = z.strictObject({
  apiKey: z.string().min(1).optional(),
  baseUrl: z
    .string()
    .regex(/^https?:\/\/[^\s?#]+$/, 'an http:// or https:// URL without query or fragment')
    .optional(),
  model: z.string().min(1).max(200).optional(),
  language: z.string().regex(/^[A-Za-z]{2,3}$/, 'an ISO-639-1 code like en').optional(),
  prompt: z.string().max(4000).optional(),
  timeoutMs: z.number().int().min(100).max(300_000).optional(),
}) satisfies z.ZodType<OpenAiSttOptions>;

/**
 * Batch Whisper-style STT. Errors are {@link ProviderError}s: network failures, timeouts and HTTP 408/429/5xx
 * are retryable; other 4xx are not. Aborting cancels the upload and ends the utterance without a final.
 */
export class OpenAiStt implements SttProvider {
  readonly name = PROVIDER;
  private readonly url: string;
  private readonly model: string;
  private readonly timeoutMs: number;
  private closed = false;

  /** @param options see {@link OpenAiSttOptions}; validate tenant input with {@link openAiSttOptionsSchema} first. */
  constructor(private readonly options: OpenAiSttOptions = {}) {
    this.url = `${(options.baseUrl ?? DEFAULT_BASE_URL).replace(/\/+$/, '')}/audio/transcriptions`;
    this.model = options.model ?? DEFAULT_MODEL;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  /** Buffers the utterance, uploads it when `audio` ends, and yields exactly one `final` (none if aborted). */
  async *transcribe(audio: AsyncIterable<AudioFrame>, o: CallOptions): AsyncIterable<TranscriptEvent> {
    if (this.closed) throw new ProviderError(PROVIDER, 'transcribe() after close()', false);
    const parts: Int16Array[] = [];
    let rateHz: number | undefined;
    let resampler: StreamingResampler | undefined;
    // The caller's signal usually outlives the utterance (one per call), so its listener is removed below.
    let onAbort = (): void => undefined;
    const aborted = new Promise<'aborted'>((resolve) => (onAbort = () => resolve('aborted')));
    if (o.signal.aborted) onAbort();
    else o.signal.addEventListener('abort', onAbort, { once: true });
    const frames = audio[Symbol.asyncIterator]();
    try {
      for (;;) {
        const pending = frames.next();
        pending.catch(() => undefined); // if abort wins the race, a late rejection must not go unhandled
        const next = await Promise.race([pending, aborted]);
        if (next === 'aborted') {
          // Don't wait for a producer blocked in next(); just tell it we're done.
          void Promise.resolve(frames.return?.()).catch(() => undefined);
          return;
        }
        if (next.done) break;
        const frame = next.value;
        rateHz ??= frame.sampleRateHz;
        if (frame.sampleRateHz === rateHz) {
          if (resampler) parts.push(resampler.flush());
          resampler = undefined;
          parts.push(frame.samples);
        } else {
          // The whole upload has one rate; convert stragglers to the first frame's.
          if (resampler?.fromHz !== frame.sampleRateHz) {
            if (resampler) parts.push(resampler.flush());
            resampler = new StreamingResampler(frame.sampleRateHz, rateHz);
          }
          parts.push(resampler.process(frame.samples));
        }
      }
    } finally {
      o.signal.removeEventListener('abort', onAbort);
    }
    if (o.signal.aborted) return;
    if (resampler) parts.push(resampler.flush());
    const samples = concatPcm16(parts);
    if (rateHz === undefined || samples.length === 0) {
      yield { kind: 'final', text: '' };
      return;
    }
    const text = await this.request(encodeWav({ sampleRateHz: rateHz, channels: [samples] }), o.signal);
    if (text === undefined) return; // aborted
    yield { kind: 'final', text };
  }

  /**
   * Opens a connection to the server ahead of the first upload (the stream is starting), unless the
   * shared pool holds a free one: see connection-pool.ts.
   */
  prepare(): void {
    preconnect(this.url);
  }

  /** Nothing is held between utterances; marks the provider closed. Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
  }

  /** Uploads one WAV; returns the transcript, or undefined when the caller aborted. */
  private async request(wav: Buffer, callerSignal: AbortSignal): Promise<string | undefined> {
    const fields: [string, string][] = [
      ['model', this.model],
      ['response_format', 'json'],
    ];
    if (this.options.language) fields.push(['language', this.options.language]);
    if (this.options.prompt) fields.push(['prompt', this.options.prompt]);
    const form = multipartForm(fields, { field: 'file', filename: 'audio.wav', type: 'audio/wav', data: wav });
    const headers: Record<string, string> = { Accept: 'application/json', 'Content-Type': form.contentType };
    if (this.options.apiKey) headers.Authorization = `Bearer ${this.options.apiKey}`;
    const deadline = AbortSignal.timeout(this.timeoutMs);
    const signal = AbortSignal.any([callerSignal, deadline]);
    try {
      const res = await pooledPost({ url: this.url, headers, body: form.body, signal });
      const body = await readWholeBody(res, MAX_RESPONSE_BYTES);
      const status = res.statusCode ?? 0;
      if (status < 200 || status > 299) {
        const retryable = status === 408 || status === 429 || status >= 500;
        throw new ProviderError(PROVIDER, `HTTP ${status}${this.detail(body)}`, retryable);
      }
      let parsed: unknown;
      try {
        parsed = JSON.parse(body);
      } catch {
        throw new ProviderError(PROVIDER, 'response is not JSON', true);
      }
      const text = (parsed as { text?: unknown } | null)?.text;
      if (typeof text !== 'string') throw new ProviderError(PROVIDER, 'response has no text field', true);
      return text.trim();
    } catch (err) {
      if (callerSignal.aborted) return undefined;
      if (err instanceof ProviderError) throw err;
      if (deadline.aborted) throw new ProviderError(PROVIDER, `no response within ${this.timeoutMs} ms`, true, { cause: err });
      const cause = err instanceof Error ? ((err.cause as Error | undefined)?.message ?? err.message) : String(err);
      throw new ProviderError(PROVIDER, `request failed: ${this.redact(cause)}`, true);
    }
  }

  /** A short, key-free summary of an error body (OpenAI's `{error:{message}}` or raw text). */
  private detail(body: string): string {
    let message = body;
    try {
      const m = (JSON.parse(body) as { error?: { message?: unknown } | string; detail?: unknown }) ?? {};
      if (typeof m.error === 'object' && typeof m.error?.message === 'string') message = m.error.message;
      else if (typeof m.error === 'string') message = m.error;
      else if (typeof m.detail === 'string') message = m.detail;
    } catch {
      // not JSON: use the raw text
    }
    message = this.redact(message).replace(/\s+/g, ' ').trim().slice(0, MAX_ERROR_DETAIL_CHARS);
    return message.length > 0 ? `: ${message}` : '';
  }

  /** Removes the key, and anything shaped like an OpenAI key (their 401s echo a masked one). */
  private redact(s: string): string {
    const key = this.options.apiKey;
    const out = key ? s.split(key).join('[redacted]') : s;
    return out.replace(/\bsk-[A-Za-z0-9*_-]{4,}/g, 'sk-[redacted]');
  }
}
