/**
 * The one audio unit that flows through the call path: mono signed 16-bit PCM at a stated rate.
 * Transports decode carrier codecs into frames; providers consume and produce frames.
 */
export interface AudioFrame {
  readonly kind: 'audio';
  /** Mono PCM16 samples. Treat as immutable once emitted. */
  readonly samples: Int16Array;
  readonly sampleRateHz: number;
}

/** Rates every resampler and codec in Parley supports. */
export const SUPPORTED_RATES_HZ = [8000, 16000, 22050, 24000, 48000] as const;

export function audioFrame(samples: Int16Array, sampleRateHz: number): AudioFrame {
  return { kind: 'audio', samples, sampleRateHz };
}

export function frameDurationMs(frame: AudioFrame): number {
  return (frame.samples.length * 1000) / frame.sampleRateHz;
}

/** Slab that small sample arrays are carved from (see {@link allocSamples}). */
const SLAB_BYTES = 64 * 1024;
/** Arrays larger than this get their own buffer. */
const SLAB_MAX_ALLOC_BYTES = 4 * 1024;
let slab = new ArrayBuffer(SLAB_BYTES);
let slabUsed = 0;

/**
 * A zeroed Int16Array of `n` samples for a frame on the hot path. Small arrays are views into a shared 64 KiB slab, the way Node pools small Buffers:
 * a typed array with its own backing store costs a native allocation and GC bookkeeping per frame,
 * a view costs one small object. The views never overlap, and a slab is freed once no view of it
 * is reachable. Like any pooled view, `samples.buffer` is not the frame's alone: use byteOffset and
 * byteLength, and never transfer it to a worker.
 */
export function allocSamples(n: number): Int16Array {
  const bytes = n * 2;
  if (bytes > SLAB_MAX_ALLOC_BYTES) return new Int16Array(n);
  if (slabUsed + bytes > SLAB_BYTES) {
    slab = new ArrayBuffer(SLAB_BYTES);
    slabUsed = 0;
  }
  const view = new Int16Array(slab, slabUsed, n);
  // Keep every view 8-byte aligned, as Buffer's pool does.
  slabUsed += (bytes + 7) & ~7;
  return view;
}
