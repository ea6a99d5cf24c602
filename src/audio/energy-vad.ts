/**
 * Adaptive energy voice activity detector: cheap, dependency-free stand-in until a neural VAD is plugged in.
 *
 * Per frame: high-pass the samples (drops DC and mains hum, which carry energy but no speech), take the
 * energy in dBFS, and compare it with a tracked noise floor. The frame is speech when it is both
 * `thresholdDb` above the floor and above the absolute `minEnergyDbfs` gate; the returned probability is a
 * soft (logistic) version of that decision so callers can apply their own hysteresis.
 *
 * Noise floor tracking: falls fast (so a pause immediately re-establishes the floor), rises slowly while
 * the level looks like speech (so talking does not teach the detector that speech is noise), but rises
 * quickly when the level is steady — stationary noise barely fluctuates between frames, speech swings by
 * 5–10 dB at the syllable rate — so a newly noisy line is absorbed within a few hundred milliseconds.
 * The floor never drops below `noiseFloorMinDbfs`, so near-digital-silence does not make faint sounds
 * look like loud speech.
 */
import { meanSquareToDbfs } from './pcm16.js';
import type { VoiceActivityDetector } from './vad.js';

export interface EnergyVadOptions {
  /** Input rate; tuned for 8000 and 16000 Hz, works for any rate. */
  sampleRateHz: number;
  /** Speech needs this much energy above the tracked noise floor, in dB. */
  thresholdDb?: number;
  /** Absolute gate: frames quieter than this (dBFS) are never speech. */
  minEnergyDbfs?: number;
  /** Lowest value the noise floor may take (dBFS). */
  noiseFloorMinDbfs?: number;
  /** Corner of the 2nd-order high-pass applied before measuring energy; 0 disables it. */
  highPassHz?: number;
  /** Time constant of the floor falling towards a quieter frame. */
  floorFallMs?: number;
  /** Time constant of the floor rising towards a steady (noise-like) level. */
  floorRiseSteadyMs?: number;
  /** Time constant of the floor rising towards a fluctuating (speech-like) level. */
  floorRiseSpeechMs?: number;
  /** Mean absolute deviation (dB) of frame levels from their ~200 ms average below which the input counts as steady. */
  steadyDeviationDb?: number;
}

/** Defaults for every option but the rate. */
export const energyVadDefaults = {
  thresholdDb: 9,
  minEnergyDbfs: -45,
  noiseFloorMinDbfs: -60,
  // Below the telephone band's 300 Hz edge but well above 50/60 Hz hum (attenuated by ~20 dB).
  highPassHz: 200,
  floorFallMs: 40,
  floorRiseSteadyMs: 250,
  floorRiseSpeechMs: 5000,
  steadyDeviationDb: 2.5,
} as const satisfies Required<Omit<EnergyVadOptions, 'sampleRateHz'>>;

/** Width (dB) of the logistic transitions around the thresholds: ±3 dB spans roughly p = 0.12..0.88. */
const SOFTNESS_DB = 1.5;
/** Time constant of the mean absolute deviation used for the steadiness test. */
const STATS_MS = 200;
/**
 * Time constant of the running level that deviations are measured from; shorter than STATS_MS so that
 * after a step (e.g. silence → fan noise) the mean catches up quickly and the new level is seen as steady.
 */
const MEAN_MS = 100;

function logistic(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

/** Adaptive energy VAD; one instance per audio stream. No allocation per frame. */
export class EnergyVad implements VoiceActivityDetector {
  readonly sampleRateHz: number;
  readonly #opts: Required<Omit<EnergyVadOptions, 'sampleRateHz'>>;
  /** One-pole high-pass coefficient (RC / (RC + dt)), or 0 when disabled. */
  readonly #hpCoef: number;

  #floorDb = 0;
  #meanDb = 0;
  #deviationDb = 0;
  #started = false;
  // State of the two cascaded one-pole high-pass sections.
  #x1 = 0;
  #y1 = 0;
  #y2 = 0;
  // Smoothing coefficients for the last frame duration seen (frames almost always share one).
  #alphaMs = -1;
  #statsAlpha = 0;
  #meanAlpha = 0;
  #fallAlpha = 0;
  #riseSteadyAlpha = 0;
  #riseSpeechAlpha = 0;

  /**
   * @param options rate plus overrides of {@link energyVadDefaults}.
   */
  constructor(options: EnergyVadOptions) {
    if (!(options.sampleRateHz > 0)) throw new RangeError(`invalid sample rate ${options.sampleRateHz}`);
    this.sampleRateHz = options.sampleRateHz;
    const opts = { ...energyVadDefaults, ...definedOnly(options) };
    if (!(opts.highPassHz >= 0 && opts.highPassHz < this.sampleRateHz / 2)) {
      throw new RangeError(`highPassHz must be in [0, ${this.sampleRateHz / 2}), got ${opts.highPassHz}`);
    }
    this.#opts = opts;
    const rc = 1 / (2 * Math.PI * opts.highPassHz);
    this.#hpCoef = opts.highPassHz === 0 ? 0 : rc / (rc + 1 / this.sampleRateHz);
    this.reset();
  }

  /** Forgets the noise floor and filter state. */
  reset(): void {
    this.#floorDb = this.#opts.noiseFloorMinDbfs;
    this.#meanDb = 0;
    this.#deviationDb = 0;
    this.#started = false;
    this.#x1 = 0;
    this.#y1 = 0;
    this.#y2 = 0;
  }

  /** Current noise floor estimate in dBFS (for diagnostics and metrics). */
  get noiseFloorDbfs(): number {
    return this.#floorDb;
  }

  /**
   * Scores one frame.
   * @param samples PCM16 at `sampleRateHz`, any length (typically 20 ms).
   * @returns speech probability 0..1; 0 for an empty frame.
   */
  process(samples: Int16Array): number {
    const n = samples.length;
    if (n === 0) return 0;
    const energyDb = meanSquareToDbfs(this.#highPassMeanSquare(samples));
    const opts = this.#opts;

    // Score against the floor as it was before this frame, so a speech onset is measured against the
    // preceding noise rather than against a floor it has already pulled up.
    const snrDb = energyDb - this.#floorDb;
    const pSnr = logistic((snrDb - opts.thresholdDb) / SOFTNESS_DB);
    const pGate = logistic((energyDb - opts.minEnergyDbfs) / SOFTNESS_DB);
    const probability = pSnr < pGate ? pSnr : pGate;

    this.#track(energyDb, (n * 1000) / this.sampleRateHz);
    return probability;
  }

  /** Runs the high-pass (state carried across frames) and returns the mean square of its output. */
  #highPassMeanSquare(samples: Int16Array): number {
    const n = samples.length;
    const a = this.#hpCoef;
    let sum = 0;
    if (a === 0) {
      for (let i = 0; i < n; i++) sum += samples[i]! * samples[i]!;
      return sum / n;
    }
    let x1 = this.#x1;
    let y1 = this.#y1;
    let y2 = this.#y2;
    for (let i = 0; i < n; i++) {
      const x = samples[i]!;
      const y1Prev = y1;
      y1 = a * (y1 + x - x1);
      y2 = a * (y2 + y1 - y1Prev);
      x1 = x;
      sum += y2 * y2;
    }
    this.#x1 = x1;
    this.#y1 = y1;
    this.#y2 = y2;
    return sum / n;
  }

  /** Updates the level statistics and the noise floor with this frame's energy. */
  #track(energyDb: number, durationMs: number): void {
    const opts = this.#opts;
    // Levels below the floor clamp are all "silence" to the statistics: digital silence (-100 dBFS) giving
    // way to line noise would otherwise look like a huge swing and delay recognising the noise as steady.
    const level = energyDb < opts.noiseFloorMinDbfs ? opts.noiseFloorMinDbfs : energyDb;
    if (!this.#started) {
      this.#started = true;
      this.#meanDb = level;
    }
    if (durationMs !== this.#alphaMs) this.#computeAlphas(durationMs);
    this.#deviationDb += (Math.abs(level - this.#meanDb) - this.#deviationDb) * this.#statsAlpha;
    this.#meanDb += (level - this.#meanDb) * this.#meanAlpha;

    const delta = energyDb - this.#floorDb;
    let alpha: number;
    if (delta < 0) alpha = this.#fallAlpha;
    else if (this.#deviationDb < opts.steadyDeviationDb) alpha = this.#riseSteadyAlpha;
    else alpha = this.#riseSpeechAlpha;
    const floor = this.#floorDb + delta * alpha;
    this.#floorDb = floor < opts.noiseFloorMinDbfs ? opts.noiseFloorMinDbfs : floor;
  }

  /** One-pole smoothing coefficients (1 − e^(−Δt/τ)) of every time constant, for frames of `durationMs`. */
  #computeAlphas(durationMs: number): void {
    const opts = this.#opts;
    const alpha = (tauMs: number): number => 1 - Math.exp(-durationMs / tauMs);
    this.#alphaMs = durationMs;
    this.#statsAlpha = alpha(STATS_MS);
    this.#meanAlpha = alpha(MEAN_MS);
    this.#fallAlpha = alpha(opts.floorFallMs);
    this.#riseSteadyAlpha = alpha(opts.floorRiseSteadyMs);
    this.#riseSpeechAlpha = alpha(opts.floorRiseSpeechMs);
  }
}

/** Drops keys whose value is undefined so they do not override defaults when spread. */
function definedOnly<T extends object>(o: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}
