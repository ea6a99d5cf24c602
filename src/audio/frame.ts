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
