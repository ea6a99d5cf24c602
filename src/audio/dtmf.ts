/**
 * DTMF (touch-tone) generation and detection.
 *
 * Keys are pairs of one low ("row") and one high ("column") frequency, ITU-T Q.23:
 *
 *            1209  1336  1477  1633 Hz
 *     697     1     2     3     A
 *     770     4     5     6     B
 *     852     7     8     9     C
 *     941     *     0     #     D
 *
 * Generation: 100 ms of tone then 60 ms of silence per key (Q.24 asks ≥ 40 ms of each), `w` = 500 ms
 * of silence. Each frequency at −10 dBFS (peak 10,362), so the pair peaks at −4 dBFS and never clips,
 * even after mu-law. Edges are shaped with a 2 ms raised-cosine ramp so keys do not click.
 *
 * Detection (for tests and diagnostics, not the carrier's own DTMF events): Goertzel filters over
 * ~25.6 ms blocks; a block holds a key when one row and one column frequency carry most of its
 * energy with limited twist; a key is reported once it holds for two blocks in a row, and again only
 * after a block without it.
 */

export const DTMF_TONE_MS = 100;
export const DTMF_GAP_MS = 60;
export const DTMF_PAUSE_MS = 500;
/** Keys `dtmfTones` accepts: the 16 keys and `w` (pause). */
export const DTMF_SEQUENCE = /^[0-9*#A-Dw]*$/;

const ROW_HZ = [697, 770, 852, 941] as const;
const COL_HZ = [1209, 1336, 1477, 1633] as const;
const KEYS = ['123A', '456B', '789C', '*0#D'] as const;
/** −10 dBFS per frequency. */
const TONE_AMPLITUDE = 32767 * 10 ** (-10 / 20);
const RAMP_MS = 2;

/** The [row, column] frequencies of `key`, or undefined when it is not a DTMF key. */
export function dtmfFrequencies(key: string): readonly [number, number] | undefined {
  for (let r = 0; r < KEYS.length; r++) {
    const c = (KEYS[r] as string).indexOf(key);
    if (key.length === 1 && c >= 0) return [ROW_HZ[r] as number, COL_HZ[c] as number];
  }
  return undefined;
}

function samplesFor(ms: number, rate: number): number {
  return Math.round((ms * rate) / 1000);
}

/**
 * PCM16 for pressing `digits` (0-9, *, #, A-D; `w` = 500 ms pause) at `sampleRateHz`.
 * Throws RangeError for other characters or a non-positive rate.
 */
export function dtmfTones(digits: string, sampleRateHz: number): Int16Array {
  if (!DTMF_SEQUENCE.test(digits)) throw new RangeError(`not DTMF keys: ${JSON.stringify(digits)} (allowed: 0-9 * # A-D w)`);
  if (!(sampleRateHz > 0) || !Number.isFinite(sampleRateHz)) throw new RangeError(`bad sample rate ${sampleRateHz}`);
  const tone = samplesFor(DTMF_TONE_MS, sampleRateHz);
  const gap = samplesFor(DTMF_GAP_MS, sampleRateHz);
  const pause = samplesFor(DTMF_PAUSE_MS, sampleRateHz);
  const ramp = Math.max(1, samplesFor(RAMP_MS, sampleRateHz));
  let total = 0;
  for (const k of digits) total += k === 'w' ? pause : tone + gap;
  const out = new Int16Array(total);
  let at = 0;
  for (const k of digits) {
    if (k === 'w') {
      at += pause;
      continue;
    }
    const [low, high] = dtmfFrequencies(k) as readonly [number, number];
    const wl = (2 * Math.PI * low) / sampleRateHz;
    const wh = (2 * Math.PI * high) / sampleRateHz;
    for (let i = 0; i < tone; i++) {
      const edge = Math.min(i, tone - 1 - i);
      const gain = edge >= ramp ? 1 : 0.5 - 0.5 * Math.cos((Math.PI * edge) / ramp);
      out[at + i] = Math.round(TONE_AMPLITUDE * gain * (Math.sin(wl * i) + Math.sin(wh * i)));
    }
    at += tone + gap;
  }
  return out;
}

// ---------- detection ----------

const BLOCK_MS = 25.6;
/** Blocks quieter than this (mean square of −45 dBFS RMS) hold no key. */
const MIN_MEAN_SQUARE = (32767 * 10 ** (-45 / 20)) ** 2;
/** Share of the block's energy the two tones must carry. */
const MIN_TONE_SHARE = 0.6;
/** Largest level difference between the two tones (Q.24 receivers accept 4–8 dB). */
const MAX_TWIST = 10 ** (8 / 20);
/** The winning frequency of a group must beat the group's next one by this factor in amplitude. */
const MIN_GROUP_MARGIN = 2;

/** Amplitude of `hz` in `x[from, from+n)` (Goertzel), in sample units. */
function goertzelAmplitude(x: Int16Array, from: number, n: number, hz: number, rate: number): number {
  const coeff = 2 * Math.cos((2 * Math.PI * hz) / rate);
  let s1 = 0;
  let s2 = 0;
  for (let i = 0; i < n; i++) {
    const s = (x[from + i] as number) + coeff * s1 - s2;
    s2 = s1;
    s1 = s;
  }
  const power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
  return (2 * Math.sqrt(Math.max(power, 0))) / n;
}

function strongest(amps: number[]): { index: number; amp: number; margin: number } {
  let index = 0;
  for (let i = 1; i < amps.length; i++) if ((amps[i] as number) > (amps[index] as number)) index = i;
  const amp = amps[index] as number;
  const next = Math.max(...amps.filter((_, i) => i !== index));
  return { index, amp, margin: next === 0 ? Infinity : amp / next };
}

function blockKey(x: Int16Array, from: number, n: number, rate: number): string | undefined {
  let energy = 0;
  for (let i = 0; i < n; i++) energy += (x[from + i] as number) ** 2;
  const meanSquare = energy / n;
  if (meanSquare < MIN_MEAN_SQUARE) return undefined;
  const row = strongest(ROW_HZ.map((f) => goertzelAmplitude(x, from, n, f, rate)));
  const col = strongest(COL_HZ.map((f) => goertzelAmplitude(x, from, n, f, rate)));
  if (row.margin < MIN_GROUP_MARGIN || col.margin < MIN_GROUP_MARGIN) return undefined;
  const twist = row.amp / col.amp;
  if (!(twist <= MAX_TWIST && twist >= 1 / MAX_TWIST)) return undefined;
  // A sine of amplitude a has mean square a²/2.
  if ((row.amp ** 2 + col.amp ** 2) / 2 < MIN_TONE_SHARE * meanSquare) return undefined;
  return (KEYS[row.index] as string)[col.index];
}

/** The keys pressed in `samples` (pauses are not reported). */
export function detectDtmf(samples: Int16Array, sampleRateHz: number): string {
  const n = Math.max(1, Math.round((BLOCK_MS * sampleRateHz) / 1000));
  let out = '';
  let previous: string | undefined;
  let reported = false;
  for (let from = 0; from + n <= samples.length; from += n) {
    const key = blockKey(samples, from, n, sampleRateHz);
    if (key !== previous) reported = false;
    if (key !== undefined && key === previous && !reported) {
      out += key;
      reported = true;
    }
    previous = key;
  }
  return out;
}
