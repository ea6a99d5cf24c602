/**
 * ITU-T G.711 mu-law codec (the carrier codec of North-American telephony and Twilio media streams).
 *
 * Both directions are table lookups: this sits on the per-frame hot path of every call, so there is no
 * per-sample branching or allocation. Tables are built once at module load from the classic reference
 * algorithm (Sun / CCITT `g711.c`: bias 0x84, clip 32635), so the tables, not hand-typed constants, are the
 * single source of truth.
 */

/** Mu-law byte that decodes to 0 (positive zero); use it to pad or generate silence. */
export const MULAW_SILENCE = 0xff;

const BIAS = 0x84;
const CLIP = 32635;

/** Decode value of every mu-law byte. */
const DECODE_TABLE: Int16Array = buildDecodeTable();
/** Encoded byte for every int16 value, indexed by the sample's 16-bit two's-complement pattern. */
const ENCODE_TABLE: Uint8Array = buildEncodeTable();

function decodeReference(byte: number): number {
  const u = ~byte & 0xff;
  const exponent = (u >> 4) & 0x07;
  const mantissa = u & 0x0f;
  const magnitude = (((mantissa << 3) + BIAS) << exponent) - BIAS;
  return (u & 0x80) !== 0 ? -magnitude : magnitude;
}

function encodeReference(sample: number): number {
  const sign = sample < 0 ? 0x80 : 0;
  // -32768 negates to 32768, which the clip below brings back into range.
  let magnitude = sign !== 0 ? -sample : sample;
  if (magnitude > CLIP) magnitude = CLIP;
  magnitude += BIAS;
  // Exponent = position of the highest set bit above bit 7 (0..7); magnitude <= 32767 so bit 15 is clear.
  let exponent = 7;
  for (let mask = 0x4000; (magnitude & mask) === 0 && exponent > 0; mask >>= 1) exponent--;
  const mantissa = (magnitude >> (exponent + 3)) & 0x0f;
  return ~(sign | (exponent << 4) | mantissa) & 0xff;
}

function buildDecodeTable(): Int16Array {
  const table = new Int16Array(256);
  for (let b = 0; b < 256; b++) table[b] = decodeReference(b);
  return table;
}

function buildEncodeTable(): Uint8Array {
  // The reference algorithm negates negative samples before biasing, so the low bits of negative inputs
  // matter: a 16384-entry table on `sample >> 2` would differ from it, hence the full 64 Ki table.
  const table = new Uint8Array(65536);
  for (let s = -32768; s < 32768; s++) table[s & 0xffff] = encodeReference(s);
  return table;
}

/**
 * Decodes mu-law bytes to PCM16.
 * @param bytes mu-law bytes, one per sample.
 * @param out optional destination with at least `bytes.length` samples; pass one to avoid allocating on hot
 *   paths. When given, the decoded samples are written to its start and a view of exactly
 *   `bytes.length` samples is returned.
 * @returns the decoded samples.
 */
export function mulawDecode(bytes: Uint8Array, out?: Int16Array): Int16Array {
  const n = bytes.length;
  const dst = prepareOut(out, n, Int16Array);
  const table = DECODE_TABLE;
  for (let i = 0; i < n; i++) dst[i] = table[bytes[i]!]!;
  return dst;
}

/**
 * Encodes PCM16 samples to mu-law. Samples beyond ±32635 clip to the largest code, as in G.711.
 * @param samples PCM16 samples.
 * @param out optional destination with at least `samples.length` bytes (avoids allocating on hot paths);
 *   a view of exactly `samples.length` bytes is returned.
 * @returns the encoded bytes.
 */
export function mulawEncode(samples: Int16Array, out?: Uint8Array): Uint8Array {
  const n = samples.length;
  const dst = prepareOut(out, n, Uint8Array);
  const table = ENCODE_TABLE;
  for (let i = 0; i < n; i++) dst[i] = table[samples[i]! & 0xffff]!;
  return dst;
}

/** Returns `out` (trimmed to `length`) when supplied and large enough, else a fresh array. */
function prepareOut<T extends Int16Array | Uint8Array>(
  out: T | undefined,
  length: number,
  ctor: { new (length: number): T },
): T {
  if (out === undefined) return new ctor(length);
  if (out.length < length) {
    throw new RangeError(`output buffer holds ${out.length} samples; ${length} needed`);
  }
  return out.length === length ? out : (out.subarray(0, length) as T);
}
