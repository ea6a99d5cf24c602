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

// ---------- base64 mu-law (Twilio media payloads), fused with the codec ----------

const B64_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
/** Character code of every 6-bit value. */
const B64_CHAR: Uint8Array = Uint8Array.from(B64_ALPHABET, (c) => c.charCodeAt(0));
/** 6-bit value of every byte; -1 outside the alphabet (`=` included). */
const B64_VALUE: Int8Array = (() => {
  const t = new Int8Array(256).fill(-1);
  for (let i = 0; i < 64; i++) t[B64_CHAR[i]!] = i;
  return t;
})();
const PAD = 0x3d; // '='

/**
 * Bytes that the base64 text `src[start, end)` decodes to, or -1 when its length or padding is not
 * canonical: a multiple of 4 characters, with `=` only as the last one or two. The characters
 * themselves are checked while decoding ({@link mulawDecodeBase64}).
 */
export function base64DecodedLength(src: Uint8Array, start: number, end: number): number {
  const len = end - start;
  if (len < 0 || len % 4 !== 0) return -1;
  if (len === 0) return 0;
  const last = src[end - 1];
  const beforeLast = src[end - 2];
  if (beforeLast === PAD) return last === PAD ? (len / 4) * 3 - 2 : -1;
  return last === PAD ? (len / 4) * 3 - 1 : (len / 4) * 3;
}

/**
 * Decodes base64 mu-law text (a Twilio media payload, as the bytes of the message) straight to
 * PCM16: no intermediate byte buffer or string. Accepts exactly what
 * `/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/` accepts.
 * @param out receives the samples; must hold at least {@link base64DecodedLength} of them.
 * @returns the number of samples written, or -1 if the text is not canonical base64.
 */
export function mulawDecodeBase64(src: Uint8Array, start: number, end: number, out: Int16Array): number {
  const n = base64DecodedLength(src, start, end);
  if (n < 0) return -1;
  if (out.length < n) throw new RangeError(`output buffer holds ${out.length} samples; ${n} needed`);
  const values = B64_VALUE;
  const table = DECODE_TABLE;
  const pad = (end - start) / 4 * 3 - n;
  const fullEnd = pad === 0 ? end : end - 4;
  let j = 0;
  let i = start;
  for (; i < fullEnd; i += 4) {
    const a = values[src[i]!]!;
    const b = values[src[i + 1]!]!;
    const c = values[src[i + 2]!]!;
    const d = values[src[i + 3]!]!;
    if ((a | b | c | d) < 0) return -1;
    out[j] = table[(a << 2) | (b >> 4)]!;
    out[j + 1] = table[((b & 15) << 4) | (c >> 2)]!;
    out[j + 2] = table[((c & 3) << 6) | d]!;
    j += 3;
  }
  if (pad > 0) {
    const a = values[src[i]!]!;
    const b = values[src[i + 1]!]!;
    if ((a | b) < 0) return -1;
    out[j++] = table[(a << 2) | (b >> 4)]!;
    if (pad === 1) {
      const c = values[src[i + 2]!]!;
      if (c < 0) return -1;
      out[j++] = table[((b & 15) << 4) | (c >> 2)]!;
    }
  }
  return j;
}

/** Length of the base64 text of `samples` mu-law bytes (one byte per sample), padding included. */
export function mulawBase64Length(samples: number): number {
  return Math.ceil(samples / 3) * 4;
}

/**
 * Encodes PCM16 to mu-law into `out` at `offset` (no view, no allocation: for ring buffers).
 * @returns the offset just past the bytes written.
 */
export function mulawEncodeAt(samples: Int16Array, out: Uint8Array, offset: number): number {
  const n = samples.length;
  if (out.length - offset < n) throw new RangeError('output buffer too small for the mu-law bytes');
  const table = ENCODE_TABLE;
  for (let i = 0; i < n; i++) out[offset + i] = table[samples[i]! & 0xffff]!;
  return offset + n;
}

/** Decodes `count` mu-law bytes of `src` from `start` into the start of `out` (no view, no allocation). */
export function mulawDecodeAt(src: Uint8Array, start: number, count: number, out: Int16Array): void {
  if (out.length < count) throw new RangeError(`output buffer holds ${out.length} samples; ${count} needed`);
  const table = DECODE_TABLE;
  for (let i = 0; i < count; i++) out[i] = table[src[start + i]!]!;
}

/**
 * Writes bytes `src[start, end)` as padded base64 text (ASCII bytes) into `out` at `offset`: Node's
 * encoder only returns strings, and an outbound media message is built as bytes.
 * @param out must hold {@link mulawBase64Length}(end − start) bytes from `offset`.
 * @returns the offset just past the text.
 */
export function base64EncodeInto(src: Uint8Array, start: number, end: number, out: Uint8Array, offset: number): number {
  if (out.length - offset < mulawBase64Length(end - start)) throw new RangeError('output buffer too small for the base64 text');
  const chars = B64_CHAR;
  let o = offset;
  let i = start;
  for (; i + 3 <= end; i += 3) {
    const x = src[i]!;
    const y = src[i + 1]!;
    const z = src[i + 2]!;
    out[o] = chars[x >> 2]!;
    out[o + 1] = chars[((x & 3) << 4) | (y >> 4)]!;
    out[o + 2] = chars[((y & 15) << 2) | (z >> 6)]!;
    out[o + 3] = chars[z & 63]!;
    o += 4;
  }
  const rest = end - i;
  if (rest > 0) {
    const x = src[i]!;
    const y = rest === 2 ? src[i + 1]! : 0;
    out[o] = chars[x >> 2]!;
    out[o + 1] = chars[((x & 3) << 4) | (y >> 4)]!;
    out[o + 2] = rest === 2 ? chars[(y & 15) << 2]! : PAD;
    out[o + 3] = PAD;
    o += 4;
  }
  return o;
}
