import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SILENCE_DBFS, concatPcm16, pcm16FromBytesLE, pcm16ToBytesLE, rmsDbfs, silence } from './pcm16.js';

test('little-endian bytes decode to signed samples', () => {
  const bytes = Uint8Array.of(0x01, 0x00, 0xff, 0xff, 0x00, 0x80, 0xff, 0x7f);
  assert.deepEqual(Array.from(pcm16FromBytesLE(bytes)), [1, -1, -32768, 32767]);
});

test('bytes at an odd offset are copied into an aligned array with the same values', () => {
  const backing = new Uint8Array(9);
  backing.set([0x34, 0x12, 0xcc, 0xed], 1); // 0x1234 = 4660, 0xedcc = -4660
  const odd = backing.subarray(1, 5);
  const samples = pcm16FromBytesLE(odd);
  assert.deepEqual(Array.from(samples), [4660, -4660]);
  assert.notEqual(samples.buffer, backing.buffer);
});

test('aligned bytes are viewed without copying and a trailing half sample is ignored', () => {
  const buf = Buffer.from([0x10, 0x00, 0x20, 0x00, 0x7f]);
  const samples = pcm16FromBytesLE(buf.subarray(0, 5));
  assert.deepEqual(Array.from(samples), [16, 32]);
  if (buf.byteOffset % 2 === 0) assert.equal(samples.buffer, buf.buffer);
});

test('samples serialise to little-endian bytes and back', () => {
  const samples = Int16Array.of(0, 1, -1, 32767, -32768, 4660);
  const bytes = pcm16ToBytesLE(samples);
  assert.deepEqual(Array.from(bytes), [0, 0, 1, 0, 255, 255, 255, 127, 0, 128, 0x34, 0x12]);
  assert.deepEqual(pcm16FromBytesLE(bytes), samples);
  // A subarray serialises only its own samples.
  assert.deepEqual(Array.from(pcm16ToBytesLE(samples.subarray(3, 4))), [255, 127]);
});

test('rmsDbfs reads -3.01 dBFS for a full-scale sine and -6.02 dB per halving', () => {
  const sine = (amplitude: number): Int16Array =>
    Int16Array.from({ length: 8000 }, (_, i) => Math.round(amplitude * Math.sin((2 * Math.PI * 1000 * i) / 8000 + 0.3)));
  assert.ok(Math.abs(rmsDbfs(sine(32767)) - -3.0103) < 0.01);
  assert.ok(Math.abs(rmsDbfs(sine(16384)) - -9.0309) < 0.01);
  // A constant 3277 (~0.1 of full scale) is -20 dBFS.
  assert.ok(Math.abs(rmsDbfs(new Int16Array(160).fill(3277)) - -20) < 0.01);
});

test('rmsDbfs clamps silence and empty input to -100 dBFS', () => {
  assert.equal(rmsDbfs(new Int16Array(160)), SILENCE_DBFS);
  assert.equal(rmsDbfs(new Int16Array(0)), -100);
  // A lone ±1 LSB in 10^6 samples is about -150 dBFS: still clamped.
  const nearlySilent = new Int16Array(1_000_000);
  nearlySilent[0] = 1;
  assert.equal(rmsDbfs(nearlySilent), -100);
});

test('concatPcm16 joins parts in order into a new array', () => {
  const a = Int16Array.of(1, 2);
  const joined = concatPcm16([a, new Int16Array(0), Int16Array.of(3)]);
  assert.deepEqual(Array.from(joined), [1, 2, 3]);
  assert.notEqual(joined.buffer, a.buffer);
  assert.equal(concatPcm16([]).length, 0);
});

test('silence has the sample count for its duration and rate', () => {
  assert.equal(silence(20, 8000).length, 160);
  assert.equal(silence(20, 22050).length, 441);
  assert.equal(silence(10, 22050).length, 221); // 220.5 rounds up
  assert.ok(silence(20, 16000).every((s) => s === 0));
  assert.throws(() => silence(-1, 8000), RangeError);
});
