/**
 * Streaming sample-rate conversion between the rates in SUPPORTED_RATES_HZ (any positive integer rates work).
 *
 * Method: rational L/M polyphase FIR. The prototype low-pass is a Kaiser-windowed sinc designed at the
 * upsampled rate L·fromHz, cut off just below the lower of the two Nyquist frequencies, so both imaging
 * (upsampling) and aliasing (downsampling) are suppressed; nearest-sample or linear interpolation would let
 * those through audibly. Only the L phases that are actually used are evaluated, each a K-tap dot product.
 *
 * Streaming: the last K-1 input samples and the fractional output position are kept between `process()`
 * calls, and the arithmetic for every output sample is identical however the input is chunked, so chunked
 * output equals one-shot output sample for sample. No allocation happens per sample; per call, only the
 * output array (unless the caller passes one) and a rare growth of the internal history buffer.
 */
import { concatPcm16 } from './pcm16.js';

/** 'fast' halves the filter length (cost) of 'high' at the price of a wider transition band. */
export type ResamplerQuality = 'fast' | 'high';

export interface ResamplerOptions {
  /** Default 'high'. */
  quality?: ResamplerQuality;
  /**
   * Default false: output is causal and lags the input by {@link StreamingResampler.delaySamples}; each call
   * returns every sample the input so far allows, so with an integer ratio every frame maps to one frame
   * (160 samples at 8 kHz → 320 at 16 kHz, from the first call on).
   * True: the filter delay is compensated (output sample 0 lines up with input sample 0); the first calls
   * return fewer samples until the filter has seen enough input. {@link resample} uses this.
   */
  alignOutput?: boolean;
}

interface QualitySpec {
  /** Taps per phase when upsampling; scaled by M/L when downsampling so the transition width stays fixed. */
  readonly tapsAtLowRate: number;
  /** Kaiser β: trades stop-band attenuation against transition width. */
  readonly kaiserBeta: number;
  /** Sinc cut-off (−6 dB point) as a fraction of the lower Nyquist frequency. */
  readonly cutoff: number;
}

/**
 * Measured responses, relative to the lower Nyquist frequency (Nyq):
 * - fast: −0.4 dB at 0.75·Nyq, −1.4 dB at 0.8, −6 dB at 0.9; ≥ 43 dB rejection above 1.1·Nyq, ≥ 58 dB above 1.2.
 * - high: ±0.05 dB up to 0.8·Nyq, −0.6 dB at 0.85, −3 dB at 0.9; ≥ 74 dB rejection above 1.1·Nyq.
 * So 8 kHz telephone audio keeps its 3.4 kHz band with 'high'; aliasing is confined to the top ~10%.
 */
const QUALITY: Readonly<Record<ResamplerQuality, QualitySpec>> = {
  fast: { tapsAtLowRate: 16, kaiserBeta: 5, cutoff: 0.9 },
  high: { tapsAtLowRate: 32, kaiserBeta: 7, cutoff: 0.93 },
};

/** Guards against pathological rate pairs whose polyphase table would be huge. */
const MAX_TABLE_COEFFS = 1 << 20;

interface FilterBank {
  /** L: interpolation factor. */
  readonly up: number;
  /** M: decimation factor. */
  readonly down: number;
  /** K: taps per phase. */
  readonly taps: number;
  /** L×K coefficients, phase-major; within a phase ordered oldest-sample-first so the dot product walks forward. */
  readonly coeffs: Float32Array;
  /** For phase p: how many input samples the next output advances by. */
  readonly advance: Int32Array;
  /** For phase p: the phase of the next output. */
  readonly nextPhase: Int32Array;
  /** Group delay of the prototype filter, in samples at the upsampled rate (an integer by construction). */
  readonly centerUp: number;
}

const bankCache = new Map<string, FilterBank>();

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

/** Zeroth-order modified Bessel function of the first kind (power series; converges fast for β ≤ 20). */
function besselI0(x: number): number {
  let sum = 1;
  let term = 1;
  const q = (x * x) / 4;
  for (let k = 1; k < 50; k++) {
    term *= q / (k * k);
    sum += term;
    if (term < sum * 1e-12) break;
  }
  return sum;
}

function getFilterBank(fromHz: number, toHz: number, quality: ResamplerQuality): FilterBank {
  const key = `${fromHz}:${toHz}:${quality}`;
  const cached = bankCache.get(key);
  if (cached !== undefined) return cached;
  const bank = designFilterBank(fromHz, toHz, QUALITY[quality]);
  bankCache.set(key, bank);
  return bank;
}

function designFilterBank(fromHz: number, toHz: number, spec: QualitySpec): FilterBank {
  const g = gcd(fromHz, toHz);
  const up = toHz / g;
  const down = fromHz / g;
  // Downsampling needs a proportionally longer filter (at the input rate) for the same transition width
  // relative to the output rate. K must also exceed ⌈M/L⌉ so the kept history always covers the next output.
  const minTaps = Math.max(Math.ceil((spec.tapsAtLowRate * down) / up), spec.tapsAtLowRate, Math.ceil(down / up) + 1);
  // A multiple of 4 lets the hot loop run four independent accumulators (see #run).
  const taps = Math.ceil(minTaps / 4) * 4;
  const length = up * taps;
  if (length > MAX_TABLE_COEFFS) {
    throw new RangeError(`resampling ${fromHz}→${toHz} Hz needs a ${length}-coefficient filter; rates too coprime`);
  }
  // Odd-length symmetric prototype (the last slot stays 0) so the group delay is a whole upsampled sample.
  const centerUp = (length - 2) / 2;
  const cutoffHz = (spec.cutoff * Math.min(fromHz, toHz)) / 2;
  const fc = cutoffHz / (up * fromHz); // cycles per upsampled sample
  const i0Beta = besselI0(spec.kaiserBeta);
  const proto = new Float64Array(length);
  for (let m = 0; m < length - 1; m++) {
    const x = m - centerUp;
    const sinc = x === 0 ? 2 * fc : Math.sin(2 * Math.PI * fc * x) / (Math.PI * x);
    const r = centerUp === 0 ? 0 : x / centerUp;
    proto[m] = (sinc * besselI0(spec.kaiserBeta * Math.sqrt(Math.max(0, 1 - r * r)))) / i0Beta;
  }
  const coeffs = new Float32Array(length);
  for (let p = 0; p < up; p++) {
    // Normalise each phase to unity DC gain: avoids a phase-periodic gain ripple (an audible whine at
    // from/gcd Hz) that the raw windowed sinc would leave.
    let sum = 0;
    for (let k = 0; k < taps; k++) sum += proto[p + k * up]!;
    for (let j = 0; j < taps; j++) coeffs[p * taps + j] = proto[p + (taps - 1 - j) * up]! / sum;
  }
  const advance = new Int32Array(up);
  const nextPhase = new Int32Array(up);
  for (let p = 0; p < up; p++) {
    advance[p] = Math.floor((p + down) / up);
    nextPhase[p] = (p + down) % up;
  }
  return { up, down, taps, coeffs, advance, nextPhase, centerUp };
}

/**
 * Stateful resampler for one audio stream (one per call direction; not shareable between streams).
 * The filter tables are shared between instances with the same rates and quality.
 */
export class StreamingResampler {
  readonly fromHz: number;
  readonly toHz: number;
  /**
   * How far the output signal lags the input, in output samples (may be fractional): the FIR's group delay
   * in causal mode, 0 with `alignOutput`. Identity resamplers have no delay.
   */
  readonly delaySamples: number;

  readonly #bank: FilterBank | null;
  /** Upsampled-time position of the first output, relative to input sample 0. */
  readonly #startUp: number;
  #buf: Float32Array;
  /** Valid samples in #buf (history plus unconsumed input). */
  #bufLen = 0;
  /** Index in #buf of the newest input sample the next output uses. */
  #pos = 0;
  /** Polyphase branch of the next output. */
  #phase = 0;
  #inTotal = 0;
  #outTotal = 0;

  /**
   * @param fromHz input rate (positive integer).
   * @param toHz output rate (positive integer).
   * @param opts quality and delay handling; see {@link ResamplerOptions}.
   */
  constructor(fromHz: number, toHz: number, opts: ResamplerOptions = {}) {
    for (const r of [fromHz, toHz]) {
      if (!Number.isInteger(r) || r <= 0) throw new RangeError(`sample rate must be a positive integer, got ${r}`);
    }
    this.fromHz = fromHz;
    this.toHz = toHz;
    this.#bank = fromHz === toHz ? null : getFilterBank(fromHz, toHz, opts.quality ?? 'high');
    const bank = this.#bank;
    this.#startUp = bank !== null && opts.alignOutput === true ? bank.centerUp : 0;
    this.delaySamples = bank === null || opts.alignOutput === true ? 0 : bank.centerUp / bank.down;
    this.#buf = new Float32Array(bank === null ? 0 : bank.taps * 2 + 1024);
    this.reset();
  }

  /** Forgets all history, as if newly constructed. */
  reset(): void {
    const bank = this.#bank;
    this.#inTotal = 0;
    this.#outTotal = 0;
    if (bank === null) return;
    // K−1 zeros of history stand in for the signal before the stream started.
    this.#buf.fill(0, 0, bank.taps - 1);
    this.#bufLen = bank.taps - 1;
    this.#pos = bank.taps - 1 + Math.floor(this.#startUp / bank.up);
    this.#phase = this.#startUp % bank.up;
  }

  /**
   * The exact number of samples the next `process()` call will return for an input of this length.
   * @param inputLength samples about to be passed to `process()`.
   */
  outputLength(inputLength: number): number {
    const bank = this.#bank;
    if (bank === null) return inputLength;
    const remainingUp = (this.#bufLen + inputLength - this.#pos) * bank.up - this.#phase;
    return remainingUp > 0 ? Math.ceil(remainingUp / bank.down) : 0;
  }

  /**
   * Feeds input and returns every output sample that can now be computed.
   * @param input samples at `fromHz`.
   * @param out optional destination (at least {@link outputLength} samples) to avoid allocating; the result is
   *   then a view of its start. Identity resamplers return `input` itself when `out` is omitted.
   * @returns samples at `toHz`.
   */
  process(input: Int16Array, out?: Int16Array): Int16Array {
    const bank = this.#bank;
    if (bank === null) {
      this.#inTotal += input.length;
      this.#outTotal += input.length;
      if (out === undefined) return input;
      const dst = viewOf(out, input.length);
      dst.set(input);
      return dst;
    }
    const count = this.outputLength(input.length);
    this.#append(input, input.length);
    const dst = out === undefined ? new Int16Array(count) : viewOf(out, count);
    this.#run(bank, dst, count);
    this.#compact(bank);
    return dst;
  }

  /**
   * Ends the stream: returns the remaining output (the filter's tail, computed against trailing silence)
   * and resets, so the instance can start a new stream.
   * @param out optional destination, as for `process()`.
   * @returns the final samples at `toHz`; the whole stream then holds ⌈n·to/from⌉ samples with
   *   `alignOutput`, or that plus the filter delay without.
   */
  flush(out?: Int16Array): Int16Array {
    const bank = this.#bank;
    if (bank === null || this.#inTotal === 0) {
      this.reset();
      return out === undefined ? new Int16Array(0) : viewOf(out, 0);
    }
    const { up, down, centerUp } = bank;
    const totalOut = Math.ceil((this.#inTotal * up + centerUp - this.#startUp) / down);
    const need = Math.max(0, totalOut - this.#outTotal);
    const lastInputIndex = Math.floor((this.#startUp + (totalOut - 1) * down) / up);
    const zeros = Math.max(0, lastInputIndex - (this.#inTotal - 1));
    this.#append(null, zeros);
    const dst = out === undefined ? new Int16Array(need) : viewOf(out, need);
    this.#run(bank, dst, need);
    this.reset();
    return dst;
  }

  /** Appends `input` (or `count` zeros when null) to the history buffer, growing it if needed. */
  #append(input: Int16Array | null, count: number): void {
    const required = this.#bufLen + count;
    if (required > this.#buf.length) {
      const grown = new Float32Array(Math.max(required, this.#buf.length * 2));
      grown.set(this.#buf.subarray(0, this.#bufLen));
      this.#buf = grown;
    }
    const buf = this.#buf;
    const base = this.#bufLen;
    if (input === null) buf.fill(0, base, base + count);
    else for (let i = 0; i < count; i++) buf[base + i] = input[i]!;
    this.#bufLen = required;
    this.#inTotal += count;
  }

  /** Computes `count` outputs; the caller guarantees the buffer holds the input they need. */
  #run(bank: FilterBank, dst: Int16Array, count: number): void {
    const { taps, coeffs, advance, nextPhase } = bank;
    const buf = this.#buf;
    let pos = this.#pos;
    let phase = this.#phase;
    for (let n = 0; n < count; n++) {
      let c = phase * taps;
      let b = pos - taps + 1;
      const end = c + taps;
      // Four accumulators break the floating-point add dependency chain (roughly halves the cost in V8); the
      // summation order is fixed, so results stay independent of how the input was chunked.
      let a0 = 0;
      let a1 = 0;
      let a2 = 0;
      let a3 = 0;
      while (c < end) {
        a0 += coeffs[c]! * buf[b]!;
        a1 += coeffs[c + 1]! * buf[b + 1]!;
        a2 += coeffs[c + 2]! * buf[b + 2]!;
        a3 += coeffs[c + 3]! * buf[b + 3]!;
        c += 4;
        b += 4;
      }
      let v = a0 + a1 + (a2 + a3);
      v = v > 32767 ? 32767 : v < -32768 ? -32768 : v;
      dst[n] = v < 0 ? (v - 0.5) | 0 : (v + 0.5) | 0; // round half away from zero
      pos += advance[phase]!;
      phase = nextPhase[phase]!;
    }
    this.#pos = pos;
    this.#phase = phase;
    this.#outTotal += count;
  }

  /** Drops samples no future output can reach, keeping the buffer O(K + chunk). */
  #compact(bank: FilterBank): void {
    const drop = Math.min(this.#pos - (bank.taps - 1), this.#bufLen);
    if (drop <= 0) return;
    this.#buf.copyWithin(0, drop, this.#bufLen);
    this.#bufLen -= drop;
    this.#pos -= drop;
  }
}

function viewOf(out: Int16Array, length: number): Int16Array {
  if (out.length < length) throw new RangeError(`output buffer holds ${out.length} samples; ${length} needed`);
  return out.length === length ? out : out.subarray(0, length);
}

/**
 * One-shot conversion of a complete signal, delay-compensated: the result has exactly
 * ⌈input.length·toHz/fromHz⌉ samples, time-aligned with the input.
 * @param input samples at `fromHz`.
 * @param fromHz input rate.
 * @param toHz output rate.
 * @param quality filter quality, default 'high'.
 * @returns samples at `toHz`; `input` itself when the rates are equal.
 */
export function resample(input: Int16Array, fromHz: number, toHz: number, quality: ResamplerQuality = 'high'): Int16Array {
  if (fromHz === toHz) return input;
  const r = new StreamingResampler(fromHz, toHz, { quality, alignOutput: true });
  return concatPcm16([r.process(input), r.flush()]);
}
