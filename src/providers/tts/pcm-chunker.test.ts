import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mulawDecode, mulawEncode } from '../../audio/mulaw.js';
import { concatPcm16, pcm16ToBytesLE } from '../../audio/pcm16.js';
import { PcmChunker } from './pcm-chunker.js';

function ramp(n: number): Int16Array {
  const s = new Int16Array(n);
  for (let i = 0; i < n; i++) s[i] = ((i * 37) % 65536) - 32768;
  return s;
}

/** Splits bytes into pieces of the given sizes (cycling), to mimic arbitrary network reads. */
function split(bytes: Uint8Array, sizes: number[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let off = 0, i = 0; off < bytes.length; i++) {
    const n = sizes[i % sizes.length]!;
    out.push(bytes.slice(off, off + n));
    off += n;
  }
  return out;
}

describe('PcmChunker', () => {
  it('reassembles PCM16 split at odd byte boundaries into 20 ms frames with identical samples', () => {
    const samples = ramp(16000 * 0.5 + 123); // 500 ms plus a partial frame
    const chunker = new PcmChunker({ sampleRateHz: 16000 });
    const frames = [];
    for (const piece of split(new Uint8Array(pcm16ToBytesLE(samples)), [1, 333, 7, 640, 2])) frames.push(...chunker.push(piece));
    frames.push(...chunker.end());
    assert.deepEqual(concatPcm16(frames.map((f) => f.samples)), samples);
    assert.ok(frames.slice(0, -1).every((f) => f.samples.length === 320 && f.sampleRateHz === 16000));
    assert.equal(frames.at(-1)!.samples.length, 123);
  });

  it('decodes mu-law at one byte per sample', () => {
    const bytes = mulawEncode(ramp(8000 * 0.1));
    const chunker = new PcmChunker({ sampleRateHz: 8000, encoding: 'mulaw' });
    const frames = split(bytes, [99, 1, 3]).flatMap((b) => chunker.push(b));
    frames.push(...chunker.end());
    assert.equal(frames.length, 5);
    assert.ok(frames.every((f) => f.samples.length === 160));
    assert.deepEqual(concatPcm16(frames.map((f) => f.samples)), mulawDecode(bytes));
  });

  it('drops a trailing half sample when the stream ends', () => {
    const chunker = new PcmChunker({ sampleRateHz: 8000 });
    assert.deepEqual(chunker.push(new Uint8Array([1, 0, 2])), []);
    const tail = chunker.end();
    assert.equal(tail.length, 1);
    assert.deepEqual(Array.from(tail[0]!.samples), [1]);
    assert.deepEqual(chunker.end(), []);
  });

  it('yields 441-sample frames at 22050 Hz', () => {
    const chunker = new PcmChunker({ sampleRateHz: 22050 });
    const frames = chunker.push(new Uint8Array(441 * 2 * 3));
    assert.deepEqual(frames.map((f) => f.samples.length), [441, 441, 441]);
  });

  it('does not alias the caller’s buffers', () => {
    const chunker = new PcmChunker({ sampleRateHz: 8000 });
    const input = new Uint8Array(320).fill(1);
    const [frame] = chunker.push(input);
    input.fill(0);
    assert.equal(frame!.samples[0], 0x0101);
  });

  it('merges whole frames already received into frames of up to maxFrameDurationMs, never waiting for more', () => {
    const c = new PcmChunker({ sampleRateHz: 8000, encoding: 'mulaw', maxFrameDurationMs: 100 });
    const bytes = (n: number, v: number): Uint8Array => new Uint8Array(n).fill(v);
    // 250 ms at once: 100 + 100 + 40 ms (whole 20 ms units), 10 ms held back.
    assert.deepEqual(c.push(bytes(2000, 0xff)).map((f) => f.samples.length), [800, 800, 320]);
    // 30 ms more completes two units: one 40 ms frame now.
    assert.deepEqual(c.push(bytes(240, 0xff)).map((f) => f.samples.length), [320]);
    assert.deepEqual(c.end().map((f) => f.samples.length), []);
    assert.throws(() => new PcmChunker({ sampleRateHz: 8000, frameDurationMs: 20, maxFrameDurationMs: 10 }), RangeError);
  });
});
