import { test } from 'node:test';
import assert from 'node:assert/strict';
import { base64DecodedLength, base64EncodeInto, MULAW_SILENCE, mulawBase64Length, mulawDecode, mulawDecodeAt, mulawDecodeBase64, mulawEncode, mulawEncodeAt } from './mulaw.js';

/**
 * Decoded value of every mu-law byte 0x00..0xFF, produced by sox (independent G.711 implementation):
 * `sox -t raw -r 8000 -e mu-law -b 8 -c 1 codes.raw -t raw -e signed -b 16 out.raw`.
 */
const SOX_DECODE: readonly number[] = [
  -32124, -31100, -30076, -29052, -28028, -27004, -25980, -24956, -23932, -22908, -21884, -20860, -19836, -18812, -17788, -16764,
  -15996, -15484, -14972, -14460, -13948, -13436, -12924, -12412, -11900, -11388, -10876, -10364, -9852, -9340, -8828, -8316,
  -7932, -7676, -7420, -7164, -6908, -6652, -6396, -6140, -5884, -5628, -5372, -5116, -4860, -4604, -4348, -4092,
  -3900, -3772, -3644, -3516, -3388, -3260, -3132, -3004, -2876, -2748, -2620, -2492, -2364, -2236, -2108, -1980,
  -1884, -1820, -1756, -1692, -1628, -1564, -1500, -1436, -1372, -1308, -1244, -1180, -1116, -1052, -988, -924,
  -876, -844, -812, -780, -748, -716, -684, -652, -620, -588, -556, -524, -492, -460, -428, -396,
  -372, -356, -340, -324, -308, -292, -276, -260, -244, -228, -212, -196, -180, -164, -148, -132,
  -120, -112, -104, -96, -88, -80, -72, -64, -56, -48, -40, -32, -24, -16, -8, 0,
  32124, 31100, 30076, 29052, 28028, 27004, 25980, 24956, 23932, 22908, 21884, 20860, 19836, 18812, 17788, 16764,
  15996, 15484, 14972, 14460, 13948, 13436, 12924, 12412, 11900, 11388, 10876, 10364, 9852, 9340, 8828, 8316,
  7932, 7676, 7420, 7164, 6908, 6652, 6396, 6140, 5884, 5628, 5372, 5116, 4860, 4604, 4348, 4092,
  3900, 3772, 3644, 3516, 3388, 3260, 3132, 3004, 2876, 2748, 2620, 2492, 2364, 2236, 2108, 1980,
  1884, 1820, 1756, 1692, 1628, 1564, 1500, 1436, 1372, 1308, 1244, 1180, 1116, 1052, 988, 924,
  876, 844, 812, 780, 748, 716, 684, 652, 620, 588, 556, 524, 492, 460, 428, 396,
  372, 356, 340, 324, 308, 292, 276, 260, 244, 228, 212, 196, 180, 164, 148, 132,
  120, 112, 104, 96, 88, 80, 72, 64, 56, 48, 40, 32, 24, 16, 8, 0,
];

const allCodes = Uint8Array.from({ length: 256 }, (_, i) => i);

test('decoding matches sox for all 256 codes', () => {
  assert.deepEqual(Array.from(mulawDecode(allCodes)), SOX_DECODE);
});

test('reference anchor values decode as in G.711', () => {
  // Byte is inverted, then value = ((mantissa << 3) + 0x84) << exponent) - 0x84, negated if the sign bit is set.
  // 0x00 → ~ = 0xFF: sign, exp 7, mantissa 15: (120 + 132) << 7 = 32256, minus 132 = 32124.
  assert.deepEqual(Array.from(mulawDecode(Uint8Array.of(0xff, 0x7f, 0x00, 0x80, 0xfe, 0x0f))), [0, 0, -32124, 32124, 8, -16764]);
  assert.equal(mulawDecode(Uint8Array.of(MULAW_SILENCE))[0], 0);
});

test('encoding follows the reference algorithm at decision boundaries and clip points', () => {
  // Reference: magnitude (negated for negatives) clipped to 32635, plus bias 132; exponent from bits 7..14;
  // mantissa = (magnitude >> (exponent + 3)) & 15; byte = ~(sign | exponent << 4 | mantissa).
  // 3 + 132 = 135 → exp 0, mantissa 0 → 0xFF;  4 + 132 = 136 → mantissa 1 → 0xFE;  11 → 0xFE;  12 → 0xFD.
  // 100 + 132 = 232 → exp 0, mantissa 13 → ~0x0D = 0xF2;  1000 + 132 = 1132 → exp 3, mantissa 1 → ~0x31 = 0xCE.
  const input = Int16Array.of(0, 3, 4, 11, 12, 100, 1000, -1, -3, -4, -100, -1000, 32635, 32767, -32768);
  const expected = [0xff, 0xff, 0xfe, 0xfe, 0xfd, 0xf2, 0xce, 0x7f, 0x7f, 0x7e, 0x72, 0x4e, 0x80, 0x80, 0x00];
  assert.deepEqual(Array.from(mulawEncode(input)), expected);
});

test('every code except negative zero survives encode(decode(code)) unchanged', () => {
  const roundTrip = mulawEncode(mulawDecode(allCodes));
  for (let c = 0; c < 256; c++) assert.equal(roundTrip[c], c === 0x7f ? 0xff : c, `code 0x${c.toString(16)}`);
});

test('quantisation error of every int16 value stays within half a mu-law step', () => {
  const all = Int16Array.from({ length: 65536 }, (_, i) => i - 32768);
  const decoded = mulawDecode(mulawEncode(all));
  for (let i = 0; i < all.length; i++) {
    const x = all[i]!;
    // Step is 8 << exponent and |x| + 132 >= 128 << exponent, so half a step <= (|x| + 132) / 32.
    assert.ok(Math.abs(decoded[i]! - x) <= (Math.abs(x) + 132) / 32, `x=${x} → ${decoded[i]}`);
  }
});

test('caller-supplied output buffers are filled in place and must be large enough', () => {
  const bytes = new Uint8Array(8);
  const encoded = mulawEncode(Int16Array.of(1000, -1000), bytes);
  assert.equal(encoded.buffer, bytes.buffer);
  assert.deepEqual(Array.from(encoded), [0xce, 0x4e]);
  const samples = new Int16Array(4);
  assert.deepEqual(Array.from(mulawDecode(encoded, samples)), [988, -988]);
  assert.equal(samples[0], 988);
  assert.throws(() => mulawDecode(new Uint8Array(5), new Int16Array(4)), RangeError);
  assert.throws(() => mulawEncode(new Int16Array(5), new Uint8Array(4)), RangeError);
});

// ---------- base64 mu-law ----------

const BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const ascii = (s: string): Uint8Array => Buffer.from(s, 'latin1');

/** The two-step reference: regex check, Buffer base64 decode, table decode. */
function referenceDecode(text: string): number[] | null {
  if (!BASE64_RE.test(text)) return null;
  return Array.from(mulawDecode(Buffer.from(text, 'base64')));
}

function fusedDecode(text: string): number[] | null {
  const src = ascii(`xx${text}yy`); // offsets inside a larger buffer, as in a message
  const n = base64DecodedLength(src, 2, src.length - 2);
  if (n < 0) return null;
  const out = new Int16Array(n);
  const got = mulawDecodeBase64(src, 2, src.length - 2, out);
  return got < 0 ? null : Array.from(out.subarray(0, got));
}

test('base64 decoding matches Buffer + mulawDecode for every length and all byte values', () => {
  for (let len = 0; len <= 10; len++) {
    const bytes = Uint8Array.from({ length: len }, (_, i) => (i * 97 + len * 31) & 0xff);
    const text = Buffer.from(bytes).toString('base64');
    assert.deepEqual(fusedDecode(text), referenceDecode(text), `length ${len}`);
  }
  const text = Buffer.from(allCodes).toString('base64');
  assert.deepEqual(fusedDecode(text), SOX_DECODE);
});

test('base64 decoding rejects exactly what the strict base64 pattern rejects', () => {
  const cases = ['', 'QQ==', 'QUE=', 'QUFB', 'QQ', 'QQ=', 'Q===', '====', 'QQ=A', 'QUF=QUFB', 'QU-B', 'QU_B', 'QUF\\', 'QU B', 'QUFB\n', 'QUFBQQ==', '\u00e9AAA', 'QUFB=', '=QUF'];
  for (const c of cases) assert.deepEqual(fusedDecode(c), referenceDecode(c), JSON.stringify(c));
  // Unused low bits of the last character are ignored, as Buffer does.
  assert.deepEqual(fusedDecode('QR=='), referenceDecode('QR=='));
});

test('base64 encoding of bytes in place matches Buffer base64 for every length', () => {
  for (const len of [0, 1, 2, 3, 4, 5, 159, 160, 161, 480, 640]) {
    const bytes = Uint8Array.from({ length: len + 4 }, (_, i) => (i * 97 + 13) & 0xff);
    const out = new Uint8Array(mulawBase64Length(len) + 3).fill(0x2a);
    const end = base64EncodeInto(bytes, 2, 2 + len, out, 1);
    assert.equal(end, 1 + mulawBase64Length(len));
    assert.equal(Buffer.from(out.subarray(1, end)).toString('latin1'), Buffer.from(bytes.subarray(2, 2 + len)).toString('base64'), `length ${len}`);
    assert.equal(out[0], 0x2a);
    assert.equal(out[end], 0x2a);
  }
  assert.throws(() => base64EncodeInto(new Uint8Array(160), 0, 160, new Uint8Array(215), 0), RangeError);
});

test('mu-law encoding and decoding at an offset match the allocating forms', () => {
  const samples = Int16Array.from({ length: 160 }, (_, i) => Math.round(Math.sin(i) * 20000) - (i % 7));
  const ring = new Uint8Array(480).fill(0x2a);
  assert.equal(mulawEncodeAt(samples, ring, 160), 320);
  assert.deepEqual(ring.subarray(160, 320), mulawEncode(samples));
  assert.equal(ring[159], 0x2a);
  assert.equal(ring[320], 0x2a);
  const out = new Int16Array(200).fill(7);
  mulawDecodeAt(ring, 160, 160, out);
  assert.deepEqual(out.subarray(0, 160), mulawDecode(mulawEncode(samples)));
  assert.equal(out[160], 7);
  assert.throws(() => mulawEncodeAt(samples, ring, 400), RangeError);
  assert.throws(() => mulawDecodeAt(ring, 0, 160, new Int16Array(100)), RangeError);
});
