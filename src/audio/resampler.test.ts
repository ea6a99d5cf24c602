import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resample, StreamingResampler, type ResamplerQuality } from './resampler.js';

const QUALITIES: readonly ResamplerQuality[] = ['fast', 'high'];

function tone(frequencyHz: number, sampleRateHz: number, length: number, amplitude = 10000): Int16Array {
  const out = new Int16Array(length);
  for (let i = 0; i < length; i++) out[i] = Math.round(amplitude * Math.sin((2 * Math.PI * frequencyHz * i) / sampleRateHz));
  return out;
}

/** RMS over the middle 60%, away from start-up and tail transients. */
function steadyRms(x: Int16Array): number {
  const from = Math.floor(x.length * 0.2);
  const to = Math.floor(x.length * 0.8);
  let sum = 0;
  for (let i = from; i < to; i++) sum += x[i]! * x[i]!;
  return Math.sqrt(sum / (to - from));
}

function gainDb(output: Int16Array, inputAmplitude: number): number {
  return 20 * Math.log10(steadyRms(output) / (inputAmplitude / Math.SQRT2));
}

/** Deterministic pseudo-random noise (LCG), so failures reproduce. */
function noise(length: number, amplitude: number, seed = 12345): Int16Array {
  const out = new Int16Array(length);
  let s = seed;
  for (let i = 0; i < length; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    out[i] = Math.round(((s / 0x100000000) * 2 - 1) * amplitude);
  }
  return out;
}

function runChunked(r: StreamingResampler, input: Int16Array, chunk: number): Int16Array {
  const parts: number[] = [];
  for (let i = 0; i < input.length; i += chunk) parts.push(...r.process(input.subarray(i, i + chunk)));
  parts.push(...r.flush());
  return Int16Array.from(parts);
}

test('a 1 kHz tone keeps its level within 0.5 dB when resampled 16 kHz to 8 kHz', () => {
  for (const quality of QUALITIES) {
    const out = resample(tone(1000, 16000, 16000), 16000, 8000, quality);
    const g = gainDb(out, 10000);
    assert.ok(Math.abs(g) < 0.5, `${quality}: gain ${g.toFixed(2)} dB`);
  }
});

test('a 6 kHz tone is suppressed by at least 40 dB instead of aliasing when downsampling to 8 kHz', () => {
  // Plain decimation would fold 6 kHz onto 2 kHz at full level (0 dB); the anti-aliasing filter must remove it.
  for (const quality of QUALITIES) {
    for (const fromHz of [16000, 48000, 24000, 22050]) {
      const out = resample(tone(6000, fromHz, fromHz), fromHz, 8000, quality);
      const g = gainDb(out, 10000);
      assert.ok(g < -40, `${quality} ${fromHz}→8000: 6 kHz leaks at ${g.toFixed(1)} dB`);
    }
  }
});

test('upsampling 8 kHz to 16 kHz does not create an image of a 3 kHz tone at 5 kHz', () => {
  // Zero-stuffing without a filter would leave a 5 kHz image as loud as the tone itself.
  const out = resample(tone(3000, 8000, 8000), 8000, 16000, 'high');
  // Project onto 5 kHz to measure the image alone.
  let re = 0;
  let im = 0;
  for (let i = 0; i < out.length; i++) {
    re += out[i]! * Math.cos((2 * Math.PI * 5000 * i) / 16000);
    im += out[i]! * Math.sin((2 * Math.PI * 5000 * i) / 16000);
  }
  const imageAmplitude = (2 * Math.hypot(re, im)) / out.length;
  assert.ok(imageAmplitude < 10000 * 0.01, `image amplitude ${imageAmplitude.toFixed(1)}`);
});

test('a constant input comes out as the same constant at every polyphase branch', () => {
  // Exercises the per-phase DC normalisation: 22050→8000 uses all 160 phases.
  const input = new Int16Array(22050).fill(1000);
  const out = resample(input, 22050, 8000);
  for (let i = 100; i < out.length - 100; i++) assert.equal(out[i], 1000, `sample ${i}`);
});

test('one-shot resample returns ceil(n·to/from) samples, time-aligned with the input', () => {
  const cases: Array<[number, number]> = [[16000, 8000], [8000, 16000], [22050, 8000], [8000, 22050], [48000, 8000], [24000, 16000]];
  for (const [fromHz, toHz] of cases) {
    const n = 3001;
    const out = resample(tone(1000, fromHz, n), fromHz, toHz);
    assert.equal(out.length, Math.ceil((n * toHz) / fromHz), `${fromHz}→${toHz}`);
    // Compensated delay: the output matches an ideal 1 kHz tone generated directly at the output rate.
    const ideal = tone(1000, toHz, out.length);
    for (let i = 100; i < out.length - 100; i++) {
      assert.ok(Math.abs(out[i]! - ideal[i]!) <= 2, `${fromHz}→${toHz} sample ${i}: ${out[i]} vs ${ideal[i]}`);
    }
  }
});

test('the streaming resampler turns every 20 ms frame into exactly one 20 ms frame for integer ratios', () => {
  const up = new StreamingResampler(8000, 16000);
  const down = new StreamingResampler(16000, 8000);
  const frame8 = tone(440, 8000, 160);
  const frame16 = tone(440, 16000, 320);
  for (let i = 0; i < 5; i++) {
    assert.equal(up.outputLength(160), 320);
    assert.equal(up.process(frame8).length, 320);
    assert.equal(down.process(frame16).length, 160);
  }
});

test('causal output equals the aligned output delayed by delaySamples', () => {
  // 8k→16k has an integral delay in output samples, so the relation is exact.
  const input = noise(1000, 8000);
  const causal = new StreamingResampler(8000, 16000);
  const aligned = new StreamingResampler(8000, 16000, { alignOutput: true });
  assert.equal(aligned.delaySamples, 0);
  const d = causal.delaySamples;
  assert.ok(Number.isInteger(d) && d > 0 && d < 64, `delay ${d}`);
  const c = runChunked(causal, input, 160);
  const a = runChunked(aligned, input, 160);
  assert.equal(a.length, 2000);
  assert.equal(c.length, 2000 + d);
  for (let i = 0; i < d; i++) assert.ok(Math.abs(c[i]!) < 8000, 'filter ramp-up stays bounded');
  assert.deepEqual(c.subarray(d), a);
});

test('chunked processing (1, 7, 160, 320 samples) equals one-shot processing sample for sample', () => {
  const pairs: Array<[number, number]> = [[8000, 16000], [16000, 8000], [22050, 8000], [8000, 22050], [24000, 8000], [48000, 16000]];
  for (const [fromHz, toHz] of pairs) {
    for (const alignOutput of [false, true]) {
      const input = noise(2205, 12000, fromHz + toHz);
      const reference = runChunked(new StreamingResampler(fromHz, toHz, { alignOutput }), input, input.length);
      for (const chunk of [1, 7, 160, 320]) {
        const chunked = runChunked(new StreamingResampler(fromHz, toHz, { alignOutput }), input, chunk);
        assert.deepEqual(chunked, reference, `${fromHz}→${toHz} align=${alignOutput} chunk=${chunk}`);
      }
      if (alignOutput) assert.deepEqual(reference, resample(input, fromHz, toHz));
    }
  }
});

test('an instance is reusable after flush and gives identical output for the same stream', () => {
  const r = new StreamingResampler(22050, 8000);
  const input = noise(4410, 9000);
  const first = runChunked(r, input, 441);
  const second = runChunked(r, input, 441);
  assert.deepEqual(second, first);
});

test('writing into a caller-supplied buffer gives the same samples without allocating the result', () => {
  const a = new StreamingResampler(24000, 8000);
  const b = new StreamingResampler(24000, 8000);
  const out = new Int16Array(512);
  for (let i = 0; i < 4; i++) {
    const frame = noise(480, 9000, i + 1);
    const expected = a.process(frame);
    const got = b.process(frame, out);
    assert.equal(got.buffer, out.buffer);
    assert.deepEqual(got, expected);
  }
  assert.throws(() => b.process(noise(480, 9000), new Int16Array(10)), RangeError);
});

test('a 1 kHz tone survives 8k→16k→8k and 22050→8000→22050 round trips with low error', () => {
  const cases: Array<[number, number]> = [[8000, 16000], [22050, 8000]];
  for (const [rateA, rateB] of cases) {
    const original = tone(1000, rateA, rateA);
    const back = resample(resample(original, rateA, rateB), rateB, rateA);
    assert.equal(back.length, original.length);
    let errSq = 0;
    let sigSq = 0;
    for (let i = 500; i < original.length - 500; i++) {
      errSq += (back[i]! - original[i]!) ** 2;
      sigSq += original[i]! ** 2;
    }
    const snrDb = 10 * Math.log10(sigSq / errSq);
    assert.ok(snrDb > 40, `${rateA}↔${rateB}: round-trip SNR ${snrDb.toFixed(1)} dB`);
  }
});

test('full-scale input clips instead of wrapping around', () => {
  // A square wave's Gibbs overshoot exceeds int16; without clipping it would wrap to the opposite sign.
  const square = new Int16Array(1600);
  for (let i = 0; i < square.length; i++) square[i] = Math.floor(i / 8) % 2 === 0 ? 32767 : -32768;
  const out = resample(square, 8000, 16000);
  for (let i = 64; i < out.length - 64; i++) {
    const source = square[Math.floor(i / 2)]!;
    const mid = i % 16 >= 4 && i % 16 < 12; // middle of a half period at the output rate
    if (mid) assert.equal(Math.sign(out[i]!), Math.sign(source), `sample ${i} = ${out[i]}`);
  }
});

test('equal rates pass input through untouched', () => {
  const input = noise(160, 1000);
  assert.equal(resample(input, 16000, 16000), input);
  const r = new StreamingResampler(16000, 16000);
  assert.equal(r.process(input), input);
  assert.equal(r.delaySamples, 0);
  assert.equal(r.flush().length, 0);
});

test('invalid rates are rejected', () => {
  assert.throws(() => new StreamingResampler(0, 8000), RangeError);
  assert.throws(() => new StreamingResampler(8000, 16000.5), RangeError);
});
