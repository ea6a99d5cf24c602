/**
 * Cuts a stream of arbitrarily sized audio byte chunks (network reads, base64 messages) into ~20 ms PCM16
 * frames, carrying odd bytes and partial frames across chunks and flushing the tail at the end.
 *
 * Shared by the cloud TTS providers, whose transports deliver audio in whatever sizes the network chose;
 * {@link fetchPcmFrames} is the common HTTP streaming path of the REST ones (OpenAI, Azure).
 */
import { audioFrame, type AudioFrame } from '../../audio/frame.js';
import { mulawDecode } from '../../audio/mulaw.js';
import { pcm16FromBytesLE } from '../../audio/pcm16.js';
import { ProviderError } from '../types.js';
import type { IncomingMessage } from 'node:http';
import { readErrorBody } from '../http/errors.js';
import { IdleAbort } from '../http/idle-abort.js';
import { pooledPost } from '../http/pooled-post.js';

/** Frame size yielded downstream: small enough for prompt barge-in, large enough to keep overhead low. */
export const TTS_FRAME_DURATION_MS = 20;

/** How the incoming bytes encode samples: signed 16-bit little-endian PCM, or G.711 mu-law (1 byte/sample). */
export type ByteEncoding = 'pcm16le' | 'mulaw';

export interface PcmChunkerOptions {
  /** Rate of the incoming audio, and of the frames produced (no resampling happens here). */
  readonly sampleRateHz: number;
  /** Default 'pcm16le'. */
  readonly encoding?: ByteEncoding;
  /** Default {@link TTS_FRAME_DURATION_MS}. */
  readonly frameDurationMs?: number;
  /**
   * Longest frame produced: whole `frameDurationMs` units already received go out merged into frames of up
   * to this length (never waiting for more bytes), so a 300 ms network chunk is three frames, not fifteen —
   * each frame costs a trip through every async generator between the provider and the transport. Default
   * `frameDurationMs` (no merging).
   */
  readonly maxFrameDurationMs?: number;
}

/**
 * Incremental byte-to-frame cutter. Feed it with {@link PcmChunker.push}, finish with {@link PcmChunker.end}.
 * Frames never alias the input buffers, so callers may reuse or pool them.
 */
export class PcmChunker {
  readonly sampleRateHz: number;
  private readonly encoding: ByteEncoding;
  private readonly bytesPerSample: number;
  private readonly frameBytes: number;
  private readonly maxFrameBytes: number;
  private pending: Uint8Array = new Uint8Array(0);

  constructor(o: PcmChunkerOptions) {
    if (!(o.sampleRateHz > 0)) throw new RangeError(`invalid sample rate ${o.sampleRateHz} Hz`);
    const frameMs = o.frameDurationMs ?? TTS_FRAME_DURATION_MS;
    if (!(frameMs > 0)) throw new RangeError(`invalid frame duration ${frameMs} ms`);
    this.sampleRateHz = o.sampleRateHz;
    this.encoding = o.encoding ?? 'pcm16le';
    this.bytesPerSample = this.encoding === 'mulaw' ? 1 : 2;
    const samplesPerFrame = Math.max(1, Math.round((o.sampleRateHz * frameMs) / 1000));
    this.frameBytes = samplesPerFrame * this.bytesPerSample;
    const maxMs = o.maxFrameDurationMs ?? frameMs;
    if (!(maxMs >= frameMs)) throw new RangeError(`maxFrameDurationMs ${maxMs} is below frameDurationMs ${frameMs}`);
    this.maxFrameBytes = Math.max(1, Math.floor(maxMs / frameMs)) * this.frameBytes;
  }

  /**
   * Adds bytes and returns every whole frame now available (possibly none).
   * @param chunk the next bytes of the stream, of any length.
   * @returns complete frames, in order.
   */
  push(chunk: Uint8Array): AudioFrame[] {
    if (chunk.length === 0) return [];
    const buf = this.pending.length === 0 ? chunk : concatBytes(this.pending, chunk);
    const whole = buf.length - (buf.length % this.frameBytes);
    const frames: AudioFrame[] = [];
    for (let off = 0; off < whole; off += this.maxFrameBytes) {
      frames.push(this.decode(buf.subarray(off, Math.min(whole, off + this.maxFrameBytes))));
    }
    // Copy the remainder: `chunk` belongs to the caller (often a pooled network buffer).
    this.pending = buf.slice(whole);
    return frames;
  }

  /**
   * Ends the stream: returns the final partial frame, if any. A trailing odd byte (half a PCM16 sample) is
   * dropped. The chunker is reusable afterwards.
   * @returns zero or one frame.
   */
  end(): AudioFrame[] {
    const usable = this.pending.length - (this.pending.length % this.bytesPerSample);
    const out = usable > 0 ? [this.decode(this.pending.subarray(0, usable))] : [];
    this.pending = new Uint8Array(0);
    return out;
  }

  private decode(bytes: Uint8Array): AudioFrame {
    // Both decoders return fresh memory when handed a copy / a non-pooled buffer: copy PCM explicitly so the
    // zero-copy view in pcm16FromBytesLE never shares memory with the input.
    const samples = this.encoding === 'mulaw' ? mulawDecode(bytes) : pcm16FromBytesLE(bytes.slice());
    return audioFrame(samples, this.sampleRateHz);
  }
}

function concatBytes(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

// ---------- HTTP audio streaming (shared by the REST providers) ----------

/** Request for {@link fetchPcmFrames}. */
export interface PcmHttpRequest {
  /** Provider name for errors. */
  readonly provider: string;
  readonly url: string;
  readonly init: { readonly method: 'POST'; readonly headers: Record<string, string>; readonly body: string };
  /** Cuts the response body; its rate is the frames' rate. */
  readonly chunker: PcmChunker;
  /**
   * Longest silence from the server: until the response headers, and between body reads (paused while the
   * consumer holds a frame, so slow playback never trips it).
   */
  readonly timeoutMs: number;
  readonly signal: AbortSignal;
  /** Redacted (as `***`) from every error message. */
  readonly secret?: string;
}

/** Most of an error response body worth quoting in an error message. */
const MAX_ERROR_DETAIL_CHARS = 300;

/**
 * POSTs a synthesis request and yields the streamed raw-audio body as ~20 ms frames as bytes arrive.
 *
 * Abort stops the request (and the socket) at once and returns quietly. Failures throw `ProviderError`:
 * 408/429/5xx, network errors, timeouts and mid-stream drops are retryable; other statuses are not.
 * @param r the request.
 * @returns the frames.
 */
export async function* fetchPcmFrames(r: PcmHttpRequest): AsyncGenerator<AudioFrame> {
  if (r.signal.aborted) return;
  const redact = (s: string): string => (r.secret ? s.split(r.secret).join('***') : s);
  const idle = new IdleAbort(r.signal, r.timeoutMs);
  const failure = (phase: string, err: unknown): ProviderError => {
    if (idle.timedOut) return new ProviderError(r.provider, `no response from the server for ${r.timeoutMs} ms (${phase})`, true);
    const msg = err instanceof Error ? (err.cause instanceof Error ? `${err.message}: ${err.cause.message}` : err.message) : String(err);
    return new ProviderError(r.provider, `${phase}: ${redact(msg)}`, true, { cause: err });
  };
  let res: IncomingMessage | undefined;
  let finished = false;
  try {
    idle.arm();
    try {
      res = await pooledPost({ url: r.url, headers: r.init.headers, body: r.init.body, signal: idle.signal });
    } catch (err) {
      if (r.signal.aborted) return;
      throw failure('request failed', err);
    }
    const status = res.statusCode ?? 0;
    if (status < 200 || status > 299) {
      idle.pause();
      const detail = (await readErrorBody(res)).replace(/\s+/g, ' ').trim().slice(0, MAX_ERROR_DETAIL_CHARS);
      if (r.signal.aborted) return;
      finished = true; // readErrorBody left the connection reusable or destroyed it
      const retryable = status === 408 || status === 429 || status >= 500;
      throw new ProviderError(r.provider, `HTTP ${status}${detail ? `: ${redact(detail)}` : ''}`, retryable);
    }
    const body: AsyncIterator<Buffer> = res[Symbol.asyncIterator]();
    for (;;) {
      idle.arm();
      let chunk: IteratorResult<Buffer>;
      try {
        chunk = await body.next();
      } catch (err) {
        if (r.signal.aborted) return;
        throw failure('connection dropped mid-stream', err);
      }
      idle.pause();
      if (chunk.done) break;
      for (const f of r.chunker.push(chunk.value)) {
        yield f;
        if (r.signal.aborted) return;
      }
    }
    finished = true;
    for (const f of r.chunker.end()) yield f;
  } finally {
    // Aborted, failed or abandoned by the consumer: close the connection now (a body left unread
    // would hold it); a response read to its end has already gone back to the pool.
    idle.dispose(!finished);
    if (!finished) res?.destroy();
  }
}
