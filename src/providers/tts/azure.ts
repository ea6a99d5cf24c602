/**
 * Azure AI Speech text-to-speech over REST (`POST {base}/cognitiveservices/v1`, SSML in, raw PCM16LE out via
 * `X-Microsoft-OutputFormat: raw-…-16bit-mono-pcm`), streamed and cut into ~20 ms frames as bytes arrive.
 *
 * The endpoint takes one SSML document per request, so the text chunks of one `synthesize` call (one
 * sentence) are gathered first.
 */
import { z } from 'zod';
import type { AudioFrame } from '../../audio/frame.js';
import type { CallOptions, TtsProvider } from '../types.js';
import { gatherText } from './openai-tts.js';
import { preconnect } from '../http/connection-pool.js';
import { fetchPcmFrames, PcmChunker } from './pcm-chunker.js';

const PROVIDER = 'azure';

/** Headerless raw PCM16 mono formats (`X-Microsoft-OutputFormat` values) usable on the call path. */
export type AzureOutputFormat = 'raw-8khz-16bit-mono-pcm' | 'raw-16khz-16bit-mono-pcm' | 'raw-24khz-16bit-mono-pcm';

const FORMAT_RATE_HZ: Readonly<Record<AzureOutputFormat, number>> = {
  'raw-8khz-16bit-mono-pcm': 8000,
  'raw-16khz-16bit-mono-pcm': 16000,
  'raw-24khz-16bit-mono-pcm': 24000,
};

/**
 * Default for the longest server silence (until response headers, and between body reads). First audio
 * normally comes within a second; past this the caller hears dead air and failover is the better deal.
 */
export const AZURE_TTS_DEFAULT_TIMEOUT_MS = 10000;

export interface AzureTtsOptions {
  /** Speech resource key (`Ocp-Apim-Subscription-Key`). */
  readonly apiKey: string;
  /** Azure region, e.g. 'westeurope'; required unless `baseUrl` is given. */
  readonly region?: string;
  /** Default `https://<region>.tts.speech.microsoft.com`. */
  readonly baseUrl?: string;
  /** Voice name, e.g. 'en-US-JennyNeural'. */
  readonly voice: string;
  /** `xml:lang` of the document. Default 'en-US'. */
  readonly language?: string;
  /** Default 'raw-16khz-16bit-mono-pcm'. */
  readonly outputFormat?: AzureOutputFormat;
  /** SSML prosody rate: 'x-slow'…'x-fast', a relative '+10%' / '-5%', or a multiplier like '1.2'. */
  readonly rate?: string;
  /** Longest server silence. Default {@link AZURE_TTS_DEFAULT_TIMEOUT_MS}. */
  readonly timeoutMs?: number;
}

/** Tenant-file schema of {@link AzureTtsOptions}; requires `region` or `baseUrl`. */
export const azureTtsOptionsSchema = z
  .strictObject({
    apiKey: z.string().min(1),
    region: z.string().regex(/^[a-z0-9]+$/, 'an Azure region like westeurope').optional(),
    baseUrl: z.string().regex(/^https?:\/\/[^\s]+$/, 'an http(s) URL').optional(),
    voice: z.string().regex(/^[A-Za-z0-9:_()., -]+$/, 'an Azure voice name like en-US-JennyNeural'),
    language: z.string().regex(/^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$/, 'a BCP-47 tag like en-US').optional(),
    outputFormat: z.enum(['raw-8khz-16bit-mono-pcm', 'raw-16khz-16bit-mono-pcm', 'raw-24khz-16bit-mono-pcm']).optional(),
    rate: z.string().regex(/^(x-slow|slow|medium|fast|x-fast|default|[+-]?\d+(\.\d+)?%?)$/, "an SSML rate like 'fast', '+10%' or '1.2'").optional(),
    timeoutMs: z.number().int().positive().max(120000).optional(),
  })
  .refine((o) => o.region !== undefined || o.baseUrl !== undefined, { message: 'region or baseUrl is required', path: ['region'] }) satisfies z.ZodType<AzureTtsOptions>;

/** Text-to-speech through Azure AI Speech's REST endpoint. */
export class AzureTts implements TtsProvider {
  readonly name = PROVIDER;
  readonly sampleRateHz: number;
  private readonly format: AzureOutputFormat;
  private readonly url: string;

  constructor(private readonly o: AzureTtsOptions) {
    this.format = o.outputFormat ?? 'raw-16khz-16bit-mono-pcm';
    this.sampleRateHz = FORMAT_RATE_HZ[this.format];
    if (o.baseUrl === undefined && o.region === undefined) throw new Error('azure: region or baseUrl is required');
    const base = o.baseUrl ?? `https://${o.region}.tts.speech.microsoft.com`;
    this.url = `${base.replace(/\/+$/, '')}/cognitiveservices/v1`;
  }

  /** Opens a connection to the service ahead of the next sentence, unless one is pooled (see connection-pool.ts). */
  prepare(): void {
    preconnect(this.url);
  }

  async *synthesize(text: AsyncIterable<string>, o: CallOptions): AsyncIterable<AudioFrame> {
    const input = await gatherText(text, o.signal);
    if (input === undefined) return;
    yield* fetchPcmFrames({
      provider: PROVIDER,
      url: this.url,
      init: {
        method: 'POST',
        headers: {
          'Ocp-Apim-Subscription-Key': this.o.apiKey,
          'Content-Type': 'application/ssml+xml',
          'X-Microsoft-OutputFormat': this.format,
          'User-Agent': 'parley',
        },
        body: this.ssml(input),
      },
      chunker: new PcmChunker({ sampleRateHz: this.sampleRateHz }),
      timeoutMs: this.o.timeoutMs ?? AZURE_TTS_DEFAULT_TIMEOUT_MS,
      signal: o.signal,
      secret: this.o.apiKey,
    });
  }

  /** The SSML document for `text` (every value XML-escaped). */
  ssml(text: string): string {
    const inner = this.o.rate === undefined ? xmlEscape(text) : `<prosody rate='${xmlEscape(this.o.rate)}'>${xmlEscape(text)}</prosody>`;
    return (
      `<speak version='1.0' xmlns='http://www.w3.org/2001/10/synthesis' xml:lang='${xmlEscape(this.o.language ?? 'en-US')}'>` +
      `<voice name='${xmlEscape(this.o.voice)}'>${inner}</voice></speak>`
    );
  }
}

/** Escapes the five XML special characters, for both text content and quoted attributes. */
export function xmlEscape(s: string): string {
  return s.replace(/[&<>'"]/g, (c) => XML_ENTITIES[c] ?? c);
}

const XML_ENTITIES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', "'": '&apos;', '"': '&quot;' };
