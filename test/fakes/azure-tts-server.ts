/**
 * Fake Azure Speech text-to-speech REST endpoint (`POST /cognitiveservices/v1`, SSML in, raw PCM out) on
 * 127.0.0.1 for tests. Checks `Ocp-Apim-Subscription-Key`, `Content-Type: application/ssml+xml`,
 * `X-Microsoft-OutputFormat` and `User-Agent` like the real service, answers with a deterministic sine tone at
 * the requested rate, records every request, and shares the fault modes of the OpenAI fake.
 */
import { createServer } from 'node:http';
import {
  closeServer,
  fakeTone,
  likeCloudApi,
  listen,
  pickFault,
  readBody,
  streamBody,
  type FakeHttpServer,
  type FaultPlan,
  type RecordedHttpRequest,
} from './openai-tts-server.js';

export type { FakeHttpFault, FakeHttpServer, FaultPlan, RecordedHttpRequest } from './openai-tts-server.js';

/** Raw PCM formats the fake serves, with their rates. */
export const AZURE_RAW_FORMATS: Readonly<Record<string, number>> = {
  'raw-8khz-16bit-mono-pcm': 8000,
  'raw-16khz-16bit-mono-pcm': 16000,
  'raw-22050hz-16bit-mono-pcm': 22050,
  'raw-24khz-16bit-mono-pcm': 24000,
  'raw-48khz-16bit-mono-pcm': 48000,
};

export interface FakeAzureTtsScript {
  /** Expected subscription key. Default 'test-azure-key'. */
  readonly apiKey?: string;
  /** Audio length per request. Default 500 ms. */
  readonly audioMs?: number;
  readonly toneHz?: number;
  /** Bytes per body write. Default 1001 (odd on purpose). */
  readonly chunkBytes?: number;
  readonly fault?: FaultPlan;
}

/** What the fake understood of one SSML body (best effort, for assertions). */
export interface ParsedSsml {
  readonly voice?: string;
  readonly lang?: string;
  readonly rate?: string;
  /** Inner text with XML entities decoded. */
  readonly text: string;
}

/** Extracts voice, language, prosody rate and decoded text from the SSML the provider builds. */
export function parseSsml(ssml: string): ParsedSsml {
  const attr = (re: RegExp): string | undefined => re.exec(ssml)?.[1];
  const inner = ssml.replace(/<[^>]*>/g, '');
  const text = inner
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, '&');
  const voice = attr(/<voice[^>]*\bname=['"]([^'"]*)['"]/);
  const lang = attr(/<speak[^>]*\bxml:lang=['"]([^'"]*)['"]/);
  const rate = attr(/<prosody[^>]*\brate=['"]([^'"]*)['"]/);
  return { text, ...(voice === undefined ? {} : { voice }), ...(lang === undefined ? {} : { lang }), ...(rate === undefined ? {} : { rate }) };
}

/**
 * Starts the fake.
 * @param script behaviour; see {@link FakeAzureTtsScript}.
 * @returns the base URL (`http://127.0.0.1:<port>`, pass as `baseUrl`), the recorded requests, and `close`.
 */
export async function startFakeAzureTts(script: FakeAzureTtsScript = {}): Promise<FakeHttpServer> {
  const apiKey = script.apiKey ?? 'test-azure-key';
  const requests: RecordedHttpRequest[] = [];
  const server = createServer((req, res) => {
    void (async () => {
      const body = await readBody(req);
      const index = requests.length;
      requests.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers, body });
      const reject = (status: number, text = ''): void => {
        res.writeHead(status, { 'content-type': 'text/plain' });
        res.end(text);
      };
      if (req.method !== 'POST' || req.url !== '/cognitiveservices/v1') return reject(404);
      // The real service answers 401 with an empty body.
      if (req.headers['ocp-apim-subscription-key'] !== apiKey) return reject(401);
      const fault = pickFault(script.fault, index);
      if (fault?.kind === 'status') return reject(fault.status, fault.message ?? `fake status ${fault.status}`);
      if (fault?.kind === 'stall') return;
      if (req.headers['content-type'] !== 'application/ssml+xml') return reject(415, 'Content-Type must be application/ssml+xml');
      if (!req.headers['user-agent']) return reject(400, 'User-Agent required');
      const format = req.headers['x-microsoft-outputformat'];
      const rateHz = typeof format === 'string' ? AZURE_RAW_FORMATS[format] : undefined;
      if (rateHz === undefined) return reject(400, `unsupported X-Microsoft-OutputFormat ${String(format)}`);
      if (!/^<speak\b[\s\S]*<voice\b[\s\S]*<\/voice>\s*<\/speak>$/.test(body) || parseSsml(body).voice === undefined) {
        return reject(400, 'malformed SSML');
      }
      res.writeHead(200, { 'content-type': 'audio/x-wav', 'transfer-encoding': 'chunked' });
      res.flushHeaders();
      if (fault?.kind === 'stall-body') return;
      const tone = fakeTone(script.audioMs ?? 500, rateHz, script.toneHz);
      streamBody(res, new Uint8Array(tone.buffer, tone.byteOffset, tone.byteLength), script.chunkBytes ?? 1001, fault);
    })();
  });
  const connections = likeCloudApi(server);
  const port = await listen(server);
  return { url: `http://127.0.0.1:${port}`, requests, connections, close: () => closeServer(server) };
}
