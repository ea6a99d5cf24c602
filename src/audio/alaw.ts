/**
 * ITU-T G.711 A-law codec (European / international telephony).
 *
 * Table-driven like the mu-law codec: tables are built once at module load from the classic reference
 * algorithm (Sun / CCITT `g711.c`), and the per-sample work is a single lookup.
 */

/** A-law byte that decodes to +8, the quietest positive level; A-law has no exact zero. */
export const ALAW_SILENCE = 0xd5;

/** Upper bound of each segment for the 13-bit magnitude. */
const SEGMENT_END = [0x1f, 0x3f, 0x7f, 0xff, 0x1ff, 0x3ff, 0x7ff, 0xfff] as const;

/** Decode value of every A-law byte. */
const DECODE_TABLE: Int16Array = buildDecodeTable();
/**
 * Encoded byte for every 13-bit value `sample >> 3`, indexed by its 13-bit two's-complement pattern.
 * A-law quantises the 13 most significant bits only, so 8 Ki entries are exact.
 */
const ENCODE_TABLE: Uint8Array = buildEncodeTable();

function decodeReference(byte: number): number {
  const a = byte ^ 0x55;
  const segment = (a >> 4) & 0x07;
  let magnitude = (a & 0x0f) << 4;
  if (segment === 0) magnitude += 8;
  else magnitude = (magnitude + 0x108) << (segment - 1);
  return (a & 0x80) !== 0 ? magnitude : -magnitude;
}

function encodeReference13(value13: number): number {
  let v = value13;
  let mask: number;
  if (v >= 0) {
    mask = 0xd5;
  } else {
    mask = 0x55;
    v = -v - 1;
  }
  let segment = 0;
  while (segment < 8 && v > SEGMENT_END[segment]!) segment++;
  if (segment >= 8) return 0x7f ^ mask;
  const quant = segment < 2 ? (v >> 1) & 0x0f : (v >> segment) & 0x0f;
  return ((segment << 4) | quant) ^ mask;
}

function buildDecodeTable(): Int16Array {
  const table = new Int16Array(256);
  for (let b = 0; b < 256; b++) table[b] = decodeReference(b);
  return table;
}

function buildEncodeTable(): Uint8Array {
  const table = new Uint8Array(8192);
  for (let v = -4096; v < 4096; v++) table[v & 0x1fff] = encodeReference13(v);
  return table;
}

/**
 * Decodes A-law bytes to PCM16.
 * @param bytes A-law bytes, one per sample.
 * @param out optional destination with at least `bytes.length` samples (avoids allocating on hot paths);
 *   a view of exactly `bytes.length` samples is returned.
 * @returns the decoded samples.
 */
export function alawDecode(bytes: Uint8Array, out?: Int16Array): Int16Array {
  const n = bytes.length;
  const dst = prepareOut(out, n, Int16Array);
  const table = DECODE_TABLE;
  for (let i = 0; i < n; i++) dst[i] = table[bytes[i]!]!;
  return dst;
}

/**
 * Encodes PCM16 samples to A-law (magnitudes above 32767 & ~7 saturate at the largest code).
 * @param samples PCM16 samples.
 * @param out optional destination with at least `samples.length` bytes (avoids allocating on hot paths);
 *   a view of exactly `samples.length` bytes is returned.
 * @returns the encoded bytes.
 */
export function alawEncode(samples: Int16Array, out?: Uint8Array): Uint8Array {
  const n = samples.length;
  const dst = prepareOut(out, n, Uint8Array);
  const table = ENCODE_TABLE;
  for (let i = 0; i < n; i++) dst[i] = table[(samples[i]! >> 3) & 0x1fff]!;
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
