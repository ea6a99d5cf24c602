import assert from 'node:assert/strict';
import { test } from 'node:test';
import { audioFrame } from '../audio/frame.js';
import { PreRoll } from './pre-roll.js';

const frameOf = (from: number, n: number, rate = 8000) => audioFrame(Int16Array.from({ length: n }, (_, i) => from + i), rate);

test('holds the last 300 ms of audio in order, across the ring wrapping', () => {
  const p = new PreRoll(300); // 2400 samples at 8 kHz
  assert.equal(p.frame(), undefined);
  for (let k = 0; k < 37; k++) p.push(frameOf(k * 160, 160)); // 740 ms
  const f = p.frame()!;
  assert.equal(f.sampleRateHz, 8000);
  assert.equal(p.ms, 300);
  assert.deepEqual(Array.from(f.samples), Array.from({ length: 2400 }, (_, i) => 37 * 160 - 2400 + i));
});

test('holds less than the window until it has heard that much, and a frame longer than the window keeps its end', () => {
  const p = new PreRoll(300);
  p.push(frameOf(0, 160));
  p.push(frameOf(160, 160));
  assert.equal(p.ms, 40);
  assert.deepEqual(Array.from(p.frame()!.samples), Array.from({ length: 320 }, (_, i) => i));
  p.push(frameOf(1000, 3000));
  assert.deepEqual(Array.from(p.frame()!.samples), Array.from({ length: 2400 }, (_, i) => 1600 + i));
});

test('the frame it returns is a copy: later audio does not change it', () => {
  const p = new PreRoll(300);
  p.push(frameOf(0, 160));
  const f = p.frame()!;
  p.push(frameOf(5000, 2400));
  assert.equal(f.samples[0], 0);
  assert.equal(f.samples.length, 160);
});

test('a change of rate starts afresh at the new rate', () => {
  const p = new PreRoll(300);
  p.push(frameOf(0, 160));
  p.push(frameOf(7, 320, 16000));
  const f = p.frame()!;
  assert.equal(f.sampleRateHz, 16000);
  assert.deepEqual(Array.from(f.samples), Array.from({ length: 320 }, (_, i) => 7 + i));
  assert.equal(p.ms, 20);
});
