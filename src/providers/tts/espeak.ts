/**
 * Local TTS through the espeak-ng command-line synthesizer: one process per text chunk, WAV read from its
 * stdout and cut into ~20 ms frames as bytes arrive, so playback can start before synthesis finishes.
 *
 * Chunks are spoken independently (one process each), so callers should pass phrase- or sentence-sized
 * chunks, not token fragments — espeak cannot join "Hel" + "lo" into one word.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { audioFrame, type AudioFrame } from '../../audio/frame.js';
import { pcm16FromBytesLE } from '../../audio/pcm16.js';
import { StreamingResampler } from '../../audio/resampler.js';
import { parseWavHeader, type WavHeader } from '../../audio/wav.js';
import { ProviderError, type CallOptions, type TtsProvider } from '../types.js';

const PROVIDER = 'espeak';

/** espeak-ng's native output rate for its own (non-MBROLA) voices. */
export const ESPEAK_SAMPLE_RATE_HZ = 22050;

/** Frame size yielded downstream: small enough for prompt barge-in, large enough to keep overhead low. */
const FRAME_DURATION_MS = 20;

/**
 * After SIGKILL we wait for the exit notification so the child is reaped before we return; the kernel
 * delivers it within milliseconds, this only bounds a pathological case (process stuck in the kernel).
 */
const REAP_TIMEOUT_MS = 1000;

/** Enough stderr to explain a failure without letting a chatty child grow memory without bound. */
const MAX_STDERR_BYTES = 4096;

export interface EspeakTtsOptions {
  /** espeak-ng voice name (`espeak-ng --voices`). Default 'en-us'. */
  readonly voice?: string;
  /** Speaking rate. Default 165 (espeak's own default is 175, a little fast on the phone). */
  readonly wordsPerMinute?: number;
  /** 0-99, espeak default 50. */
  readonly pitch?: number;
  /** Executable name or path. Default 'espeak-ng'. */
  readonly binary?: string;
}

export class EspeakTts implements TtsProvider {
  readonly name = PROVIDER;
  readonly sampleRateHz = ESPEAK_SAMPLE_RATE_HZ;
  private readonly voice: string;
  private readonly wordsPerMinute: number;
  private readonly pitch: number | undefined;
  private readonly binary: string;

  constructor(o: EspeakTtsOptions = {}) {
    this.voice = o.voice ?? 'en-us';
    this.wordsPerMinute = Math.round(o.wordsPerMinute ?? 165);
    this.pitch = o.pitch === undefined ? undefined : Math.round(o.pitch);
    this.binary = o.binary ?? 'espeak-ng';
  }

  async *synthesize(text: AsyncIterable<string>, o: CallOptions): AsyncIterable<AudioFrame> {
    for await (const chunk of text) {
      if (o.signal.aborted) return;
      const clean = sanitizeText(chunk);
      if (clean.length === 0) continue;
      yield* this.speak(clean, o.signal);
      if (o.signal.aborted) return;
    }
  }

  private args(text: string): string[] {
    const args = ['--stdout', '-v', this.voice, '-s', String(this.wordsPerMinute)];
    if (this.pitch !== undefined) args.push('-p', String(this.pitch));
    // '--' ends option parsing, so text starting with '-' is spoken rather than parsed as a flag.
    args.push('--', text);
    return args;
  }

  private async *speak(text: string, signal: AbortSignal): AsyncGenerator<AudioFrame> {
    // No shell: the text travels as one argv entry, so quotes, `;`, `$()` etc. are just spoken text.
    const child = spawn(this.binary, this.args(text), { stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = waitForExit(child);
    let stderr = '';
    child.stderr?.on('data', (b: Buffer) => {
      if (stderr.length < MAX_STDERR_BYTES) stderr += b.toString('utf8', 0, MAX_STDERR_BYTES - stderr.length);
    });
    const kill = (): void => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    };
    signal.addEventListener('abort', kill, { once: true });
    let finished = false;
    try {
      const reader = new WavStreamReader(ESPEAK_SAMPLE_RATE_HZ);
      // The 'error' event (e.g. ENOENT) ends stdout without data; the exit promise carries the cause.
      for await (const chunk of child.stdout as AsyncIterable<Buffer>) {
        if (signal.aborted) return;
        for (const f of reader.push(chunk)) {
          yield f;
          if (signal.aborted) return;
        }
      }
      if (signal.aborted) return;
      const exit = await exited;
      if (exit.error) throw new ProviderError(PROVIDER, `cannot run ${this.binary}: ${exit.error.message}`, false, { cause: exit.error });
      if (exit.code !== 0) {
        const why = stderr.trim() || (exit.signal ? `killed by ${exit.signal}` : 'no stderr output');
        throw new ProviderError(PROVIDER, `${this.binary} exited with code ${exit.code}: ${why}`, false);
      }
      for (const f of reader.end()) yield f;
      finished = true;
    } finally {
      signal.removeEventListener('abort', kill);
      if (!finished) {
        // Aborted, consumer stopped early, or failed: never leave a synthesizer running or unreaped.
        kill();
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([exited, new Promise((r) => (timer = setTimeout(r, REAP_TIMEOUT_MS)))]);
        clearTimeout(timer);
      }
    }
  }
}

/** Removes control characters (which espeak may interpret, e.g. as SSML-ish escapes) and outer blanks. */
export function sanitizeText(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f]+/g, ' ').trim();
}

interface ExitInfo {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly error?: Error;
}

/**
 * Resolves once the child has exited (and been reaped) and its stdio has closed — so all of stderr has
 * been read — or once it failed to start; never rejects.
 */
function waitForExit(child: ChildProcess): Promise<ExitInfo> {
  return new Promise((resolve) => {
    child.once('error', (error) => resolve({ code: null, signal: null, error }));
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
}

/**
 * Incremental WAV reader for a streamed file: parses the RIFF header once enough bytes have arrived,
 * reads data to the end of the stream (espeak writes a placeholder length), and cuts PCM16 mono into fixed-size frames,
 * carrying odd bytes and partial frames over to the next stdout chunk.
 */
export class WavStreamReader {
  private header: Buffer<ArrayBufferLike> | null = Buffer.alloc(0);
  private sourceRateHz = 0;
  private resampler: StreamingResampler | null = null;
  private pending: Buffer<ArrayBufferLike> = Buffer.alloc(0);

  constructor(private readonly outputRateHz: number) {}

  push(chunk: Buffer): AudioFrame[] {
    if (this.header !== null) {
      const buf = Buffer.concat([this.header, chunk]);
      const parsed = parseStreamingWavHeader(buf);
      if (parsed === 'incomplete') {
        this.header = buf;
        return [];
      }
      this.header = null;
      this.sourceRateHz = parsed.sampleRateHz;
      if (parsed.sampleRateHz !== this.outputRateHz) {
        this.resampler = new StreamingResampler(parsed.sampleRateHz, this.outputRateHz);
      }
      chunk = buf.subarray(parsed.dataOffset);
    }
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const frameBytes = 2 * Math.round((this.sourceRateHz * FRAME_DURATION_MS) / 1000);
    const whole = this.pending.length - (this.pending.length % frameBytes);
    if (whole === 0) return [];
    const frames = this.frames(this.pending.subarray(0, whole), frameBytes);
    this.pending = this.pending.subarray(whole);
    return frames;
  }

  /** Emits the final partial frame (a trailing odd byte, half a sample, is dropped). */
  end(): AudioFrame[] {
    const out = this.pending.length >= 2 ? this.frames(this.pending, this.pending.length) : [];
    this.pending = Buffer.alloc(0);
    if (this.resampler) {
      const tail = this.resampler.flush();
      if (tail.length > 0) out.push(audioFrame(tail, this.outputRateHz));
    }
    return out;
  }

  private frames(bytes: Buffer, frameBytes: number): AudioFrame[] {
    const out: AudioFrame[] = [];
    for (let off = 0; off + 1 < bytes.length; off += frameBytes) {
      // Copy: frames outlive this reader and must not alias Node's pooled stdout buffers.
      const raw = pcm16FromBytesLE(new Uint8Array(bytes.subarray(off, Math.min(off + frameBytes, bytes.length))));
      const samples = this.resampler ? this.resampler.process(raw) : raw;
      if (samples.length > 0) out.push(audioFrame(samples, this.outputRateHz));
    }
    return out;
  }
}

/** Header fields once the data chunk is reached; 'incomplete' means more bytes are needed. */
function parseStreamingWavHeader(buf: Buffer): { sampleRateHz: number; dataOffset: number } | 'incomplete' {
  let header: WavHeader | null;
  try {
    header = parseWavHeader(buf);
  } catch (err) {
    throw new ProviderError(PROVIDER, `synthesizer output is not a usable WAV stream: ${(err as Error).message}`, false, { cause: err });
  }
  if (header === null) return 'incomplete';
  if (header.format !== 'pcm' || header.bitsPerSample !== 16 || header.channels !== 1) {
    throw new ProviderError(PROVIDER, `unsupported WAV stream: ${header.format}, ${header.bitsPerSample} bit, ${header.channels} ch`, false);
  }
  return header;
}
