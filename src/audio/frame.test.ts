import assert from 'node:assert/strict';
import { test } from 'node:test';
import { allocSamples, audioFrame, frameDurationMs } from './frame.js';

test('pooled sample arrays are zeroed, never overlap, and stay aligned across slabs', () => {
  const arrays = Array.from({ length: 1000 }, (_, i) => allocSamples(160 + (i % 3)));
  for (const [i, a] of arrays.entries()) {
    assert.equal(a.length, 160 + (i % 3));
    assert.ok(a.every((v) => v === 0));
    assert.equal(a.byteOffset % 8, 0);
    a.fill(i + 1);
  }
  for (const [i, a] of arrays.entries()) assert.ok(a.every((v) => v === i + 1), `array ${i} was overwritten`);
  assert.ok(new Set(arrays.map((a) => a.buffer)).size > 1, 'spans several slabs');
  const big = allocSamples(48000);
  assert.equal(big.byteOffset, 0);
  assert.equal(big.buffer.byteLength, 96000);
});

test('frame duration follows the rate', () => {
  assert.equal(frameDurationMs(audioFrame(allocSamples(160), 8000)), 20);
  assert.equal(frameDurationMs(audioFrame(new Int16Array(320), 16000)), 20);
});
