import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ALAW_SILENCE, alawDecode, alawEncode } from './alaw.js';

/**
 * Decoded value of every A-law byte 0x00..0xFF, produced by sox (independent G.711 implementation):
 * `sox -t raw -r 8000 -e a-law -b 8 -c 1 codes.raw -t raw -e signed -b 16 out.raw`.
 */
const SOX_DECODE: readonly number[] = [
  -5504, -5248, -6016, -5760, -4480, -4224, -4992, -4736, -7552, -7296, -8064, -7808, -6528, -6272, -7040, -6784,
  -2752, -2624, -3008, -2880, -2240, -2112, -2496, -2368, -3776, -3648, -4032, -3904, -3264, -3136, -3520, -3392,
  -22016, -20992, -24064, -23040, -17920, -16896, -19968, -18944, -30208, -29184, -32256, -31232, -26112, -25088, -28160, -27136,
  -11008, -10496, -12032, -11520, -8960, -8448, -9984, -9472, -15104, -14592, -16128, -15616, -13056, -12544, -14080, -13568,
  -344, -328, -376, -360, -280, -264, -312, -296, -472, -456, -504, -488, -408, -392, -440, -424,
  -88, -72, -120, -104, -24, -8, -56, -40, -216, -200, -248, -232, -152, -136, -184, -168,
  -1376, -1312, -1504, -1440, -1120, -1056, -1248, -1184, -1888, -1824, -2016, -1952, -1632, -1568, -1760, -1696,
  -688, -656, -752, -720, -560, -528, -624, -592, -944, -912, -1008, -976, -816, -784, -880, -848,
  5504, 5248, 6016, 5760, 4480, 4224, 4992, 4736, 7552, 7296, 8064, 7808, 6528, 6272, 7040, 6784,
  2752, 2624, 3008, 2880, 2240, 2112, 2496, 2368, 3776, 3648, 4032, 3904, 3264, 3136, 3520, 3392,
  22016, 20992, 24064, 23040, 17920, 16896, 19968, 18944, 30208, 29184, 32256, 31232, 26112, 25088, 28160, 27136,
  11008, 10496, 12032, 11520, 8960, 8448, 9984, 9472, 15104, 14592, 16128, 15616, 13056, 12544, 14080, 13568,
  344, 328, 376, 360, 280, 264, 312, 296, 472, 456, 504, 488, 408, 392, 440, 424,
  88, 72, 120, 104, 24, 8, 56, 40, 216, 200, 248, 232, 152, 136, 184, 168,
  1376, 1312, 1504, 1440, 1120, 1056, 1248, 1184, 1888, 1824, 2016, 1952, 1632, 1568, 1760, 1696,
  688, 656, 752, 720, 560, 528, 624, 592, 944, 912, 1008, 976, 816, 784, 880, 848,
];

const allCodes = Uint8Array.from({ length: 256 }, (_, i) => i);

test('decoding matches sox for all 256 codes', () => {
  assert.deepEqual(Array.from(alawDecode(allCodes)), SOX_DECODE);
});

test('reference anchor values decode as in G.711', () => {
  // Byte XOR 0x55; sign bit set = positive; segment 0: (q << 4) + 8; segment s: ((q << 4) + 0x108) << (s - 1).
  // 0xD5 → 0x80: positive, seg 0, q 0 → 8.   0xAA → 0xFF: positive, seg 7, q 15 → (240 + 264) << 6 = 32256.
  // 0x80 → 0xD5: positive, seg 5, q 5 → (80 + 264) << 4 = 5504.
  assert.deepEqual(Array.from(alawDecode(Uint8Array.of(0xd5, 0x55, 0xaa, 0x2a, 0x80, 0x00))), [8, -8, 32256, -32256, 5504, -5504]);
  assert.equal(alawDecode(Uint8Array.of(ALAW_SILENCE))[0], 8);
});

test('encoding follows the reference algorithm at decision boundaries and clip points', () => {
  // Reference: v = sample >> 3 (13 bits); negatives use -v - 1; segment = first of 0x1F,0x3F,0x7F,... >= v;
  // quant = (v >> max(segment, 1)) & 15; byte = (segment << 4 | quant) ^ (0xD5 if positive else 0x55).
  // 15 → v 1 → q 0 → 0xD5;  16 → v 2 → q 1 → 0xD4;  -1 → v -1 → 0 → 0x55;  -17 → v -3 → 2 → q 1 → 0x54.
  // 1000 → v 125 → seg 2, q 15 → 0x2F ^ 0xD5 = 0xFA;  32767 → v 4095 → seg 7, q 15 → 0xAA.
  const input = Int16Array.of(0, 15, 16, -1, -16, -17, 1000, -1000, 32767, -32768);
  const expected = [0xd5, 0xd5, 0xd4, 0x55, 0x55, 0x54, 0xfa, 0x7a, 0xaa, 0x2a];
  assert.deepEqual(Array.from(alawEncode(input)), expected);
});

test('every code survives encode(decode(code)) unchanged', () => {
  assert.deepEqual(alawEncode(alawDecode(allCodes)), allCodes);
});

test('quantisation error of every int16 value stays within half an A-law step', () => {
  const all = Int16Array.from({ length: 65536 }, (_, i) => i - 32768);
  const decoded = alawDecode(alawEncode(all));
  for (let i = 0; i < all.length; i++) {
    const x = all[i]!;
    // Steps are 16 below |x| = 512, then 8 << segment where |x| >= 128 << segment: half a step <= max(8, |x| / 32).
    assert.ok(Math.abs(decoded[i]! - x) <= Math.max(8, Math.abs(x) / 32), `x=${x} → ${decoded[i]}`);
  }
});

test('caller-supplied output buffers are filled in place and must be large enough', () => {
  const bytes = new Uint8Array(8);
  const encoded = alawEncode(Int16Array.of(1000, -1000), bytes);
  assert.equal(encoded.buffer, bytes.buffer);
  assert.deepEqual(Array.from(encoded), [0xfa, 0x7a]);
  const samples = new Int16Array(2);
  assert.equal(alawDecode(encoded, samples), samples);
  assert.deepEqual(Array.from(samples), [1008, -1008]);
  assert.throws(() => alawDecode(new Uint8Array(5), new Int16Array(4)), RangeError);
});
