/**
 * Voice activity detection contract. The energy-based detector implements it today; a neural model
 * (Silero) will implement it later, so callers must not depend on anything beyond this interface.
 */
export interface VoiceActivityDetector {
  /** Expected input rate; callers resample to it. */
  readonly sampleRateHz: number;
  /**
   * Feed one frame (any length, typically 20 ms); returns the speech probability 0..1 for it.
   * Raw per-frame output: hysteresis and hang-over belong to the turn-taking logic, not the detector.
   */
  process(samples: Int16Array): number;
  /** Forget all adaptive state (start of a new call or stream). */
  reset(): void;
}
