/**
 * OpenAI text-to-speech (`POST {baseUrl}/audio/speech`, `response_format: 'pcm'`): raw PCM16LE 24 kHz mono,
 * streamed, cut into ~20 ms frames as bytes arrive. Also fits self-hosted OpenAI-compatible servers (keyless
 * mode: no Authorization header).
 *
 * The endpoint takes the whole input in one request, so the text chunks of one `synthesize` call (one
 * sentence) are gathered first.
 */
import { z } from 'zod';
import type { AudioFrame } from '../../audio/frame.js';
import type { CallOptions, TtsProvider } from '../types.js';
import { preconnect } from '../http/connection-pool.js';
import { fetchPcmFrames, PcmChunker } from './pcm-chunker.js';

const PROVIDER = 'openai';

/** Rate of the `pcm` response format (fixed by the API). */
export const OPENAI_TTS_SAMPLE_RATE_HZ = 24000;

/** The API rejects longer inputs; longer text is split across sequential requests. */
export const OPENAI_TTS_MAX_INPUT_CHARS = 4096;

/**
 * Default for the longest server silence (until response headers, and between body reads). First audio
 * normally comes within a second; past this the caller hears dead air and failover is the better deal.
 */
export const OPENAI_TTS_DEFAULT_TIMEOUT_MS = 10000;

export interface OpenAiTtsOptions {
  /** Bearer key. Omit for keyless self-hosted servers. */
  readonly apiKey?: string;
  /** Default 'https://api.openai.com/v1'. */
  readonly baseUrl?: string;
  /** Default 'gpt-4o-mini-tts'. */
  readonly model?: string;
  /** Default 'alloy'. */
  readonly voice?: string;
  /** 0.25..4, API default 1. */
  readonly speed?: number;
  /** Speaking-style instructions (gpt-4o-mini-tts only). */
  readonly instructions?: string;
  /** Longest server silence. Default {@link OPENAI_TTS_DEFAULT_TIMEOUT_MS}. */
  readonly timeoutMs?: number;
}

/** Tenant-file schema of {@link OpenAiTtsOptions}. */
export const openAiTtsOptionsSchema = z.strictObject({
  apiKey: z.string().min(1).optional(),
  baseUrl: z.string().regex(/^https?:\/\/[^\s]+$/, 'an http(s) URL').optional(),
  model: z.string().min(1).max(100).optional(),
  voice: z.string().min(1).max(100).optional(),
  speed: z.number().min(0.25).max(4).optional(),
  instructions: z.string().max(4000).optional(),
  timeoutMs: z.number().int().positive().max(120000).optional(),
}) satisfies z.ZodType<OpenAiTtsOptions>;

/** Text-to-speech through OpenAI's (or a compatible server's) `/audio/speech` endpoint. */
export class OpenAiTts implements TtsProvider {
  readonly name = PROVIDER;
  readonly sampleRateHz = OPENAI_TTS_SAMPLE_RATE_HZ;

  private readonly url: string;

  constructor(private readonly o: OpenAiTtsOptions = {}) {
    this.url = `${(o.baseUrl ?? 'https://api.openai.com/v1').replace(/\/+$/, '')}/audio/speech`;
  }

  /** Opens a connection to the API ahead of the next sentence, unless one is pooled (see connection-pool.ts). */
  prepare(): void {
    preconnect(this.url);
  }

  async *synthesize(text: AsyncIterable<string>, o: CallOptions): AsyncIterable<AudioFrame> {
    const input = await gatherText(text, o.signal);
    if (input === undefined) return;
    const url = this.url;
    const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'audio/pcm' };
    if (this.o.apiKey) headers.authorization = `Bearer ${this.o.apiKey}`;
    for (const part of splitText(input, OPENAI_TTS_MAX_INPUT_CHARS)) {
      const body = {
        model: this.o.model ?? 'gpt-4o-mini-tts',
        voice: this.o.voice ?? 'alloy',
        input: part,
        response_format: 'pcm',
        ...(this.o.speed === undefined ? {} : { speed: this.o.speed }),
        ...(this.o.instructions === undefined ? {} : { instructions: this.o.instructions }),
      };
      yield* fetchPcmFrames({
        provider: PROVIDER,
        url,
        init: { method: 'POST', headers, body: JSON.stringify(body) },
        chunker: new PcmChunker({ sampleRateHz: OPENAI_TTS_SAMPLE_RATE_HZ }),
        timeoutMs: this.o.timeoutMs ?? OPENAI_TTS_DEFAULT_TIMEOUT_MS,
        signal: o.signal,
        ...(this.o.apiKey ? { secret: this.o.apiKey } : {}),
      });
      if (o.signal.aborted) return;
    }
  }
}

/**
 * Concatenates the text chunks, collapses whitespace and drops control characters.
 * @returns the text, or `undefined` when aborted or blank.
 */
export async function gatherText(text: AsyncIterable<string>, signal: AbortSignal): Promise<string | undefined> {
  if (signal.aborted) return undefined;
  let all = '';
  for await (const chunk of text) {
    if (signal.aborted) return undefined;
    all += chunk;
  }
  const clean = all.replace(/[\u0000-\u001f\u007f-\u009f\s]+/g, ' ').trim();
  return clean.length === 0 || signal.aborted ? undefined : clean;
}

/**
 * Splits text into pieces of at most `maxChars`, preferring sentence ends, then spaces.
 * @returns one piece when the text already fits.
 */
export function splitText(text: string, maxChars: number): string[] {
  const out: string[] = [];
  let rest = text;
  while (rest.length > maxChars) {
    const window = rest.slice(0, maxChars + 1);
    let cut = Math.max(window.lastIndexOf('. '), window.lastIndexOf('? '), window.lastIndexOf('! ')) + 1;
    if (cut <= 0) cut = window.lastIndexOf(' ');
    if (cut <= 0) cut = maxChars;
    out.push(rest.slice(0, cut).trim());
    rest = rest.slice(cut).trim();
  }
  if (rest.length > 0) out.push(rest);
  return out;
}
