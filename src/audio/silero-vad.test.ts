import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { describe, it } from 'node:test';
import { sharedDataPath } from '../../test/support/shared-data.js';
import { resample } from './resampler.js';
import { SileroVad, loadSileroModel, sileroVadDefaults, type SileroSampleRate } from './silero-vad.js';
import { parseWav } from './wav.js';

const RATES: readonly SileroSampleRate[] = [8000, 16000];

/** goforward.wav ("go forward ten meters"): silence to ~0.48 s, speech ~0.50–2.35 s, then quiet tail. */
const SPEECH_START_S = 0.6;
const SPEECH_END_S = 2.2;
const LEADING_SILENCE_END_S = 0.45;

async function goforwardAt(rateHz: SileroSampleRate): Promise<Int16Array> {
  const wav = parseWav(await readFile(sharedDataPath('speech', 'goforward.wav')));
  assert.equal(wav.sampleRateHz, 16000);
  return rateHz === wav.sampleRateHz ? wav.samples : resample(wav.samples, wav.sampleRateHz, rateHz);
}

/** Deterministic white noise at the given RMS level (dBFS), seeded LCG. */
function whiteNoise(samples: number, dbfs: number, seed = 12345): Int16Array {
  const out = new Int16Array(samples);
  // Uniform on [-a, a] has RMS a/√3.
  const amplitude = 32768 * 10 ** (dbfs / 20) * Math.sqrt(3);
  let state = seed >>> 0;
  for (let i = 0; i < samples; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    out[i] = Math.round((state / 0x100000000) * 2 * amplitude - amplitude);
  }
  return out;
}

/** Feed 20 ms frames, draining after each so the result is deterministic; returns per-frame probabilities. */
async function run(vad: SileroVad, samples: Int16Array): Promise<number[]> {
  const frame = vad.sampleRateHz / 50;
  const probs: number[] = [];
  for (let i = 0; i + frame <= samples.length; i += frame) {
    vad.process(samples.subarray(i, i + frame));
    await vad.drain();
    // The value process() would return for the next frame: the freshest completed window.
    probs.push(vad.process(new Int16Array(0)));
  }
  return probs;
}

function fraction(values: readonly number[], pred: (v: number) => boolean): number {
  return values.filter(pred).length / values.length;
}

describe('SileroVad', () => {
  for (const rate of RATES) {
    describe(`at ${rate} Hz`, () => {
      it('scores most frames of real speech above 0.5 and the leading silence below it', async (t) => {
        const vad = await SileroVad.create({ sampleRateHz: rate });
        const audio = await goforwardAt(rate);
        const probs = await run(vad, audio);
        const frameS = 0.02;
        const speech = probs.filter((_, i) => i * frameS >= SPEECH_START_S && (i + 1) * frameS <= SPEECH_END_S);
        const lead = probs.filter((_, i) => (i + 1) * frameS <= LEADING_SILENCE_END_S);
        const speechFrac = fraction(speech, (p) => p > 0.5);
        const leadFrac = fraction(lead, (p) => p < 0.5);
        t.diagnostic(`speech frames > 0.5: ${(speechFrac * 100).toFixed(0)}% of ${speech.length}; leading silence < 0.5: ${(leadFrac * 100).toFixed(0)}% of ${lead.length}`);
        assert.ok(speech.length > 70);
        assert.ok(speechFrac >= 0.8, `only ${(speechFrac * 100).toFixed(0)}% of speech frames above 0.5`);
        assert.ok(leadFrac >= 0.9, `only ${(leadFrac * 100).toFixed(0)}% of leading-silence frames below 0.5`);
        assert.equal(vad.droppedWindows, 0);
      });

      it('keeps 1 s of digital silence and of -60 dBFS white noise below 0.5 on at least 95% of frames', async (t) => {
        const vad = await SileroVad.create({ sampleRateHz: rate });
        for (const [name, audio] of [
          ['silence', new Int16Array(rate)],
          ['-60 dBFS noise', whiteNoise(rate, -60)],
        ] as const) {
          vad.reset();
          const probs = await run(vad, audio);
          assert.equal(probs.length, 50);
          const quiet = fraction(probs, (p) => p < 0.5);
          t.diagnostic(`${name}: ${(quiet * 100).toFixed(0)}% of frames < 0.5, max ${Math.max(...probs).toFixed(3)}`);
          assert.ok(quiet >= 0.95, `${name}: only ${(quiet * 100).toFixed(0)}% of frames below 0.5`);
        }
      });

      it('reset() clears the model state, the partial window and the last probability', async () => {
        const audio = await goforwardAt(rate);
        const fresh = await SileroVad.create({ sampleRateHz: rate });
        const reused = await SileroVad.create({ sampleRateHz: rate });
        // Drive `reused` into speech, leaving a partial window behind too.
        const speech = audio.subarray(Math.round(0.8 * rate), Math.round(1.1 * rate) + 7);
        await run(reused, speech);
        reused.process(speech.subarray(0, 100));
        await reused.drain();
        assert.ok(reused.process(new Int16Array(0)) > 0.5, 'speech should have raised the probability');
        reused.reset();
        assert.equal(reused.process(new Int16Array(0)), 0);
        // After reset it must behave exactly like a fresh instance on the same input.
        const tail = audio.subarray(Math.round(1.3 * rate), Math.round(2.0 * rate));
        assert.deepEqual(await run(reused, tail), await run(fresh, tail));
      });

      it('carries state between windows (a window in context differs from the same window cold)', async () => {
        const audio = await goforwardAt(rate);
        const warm = await SileroVad.create({ sampleRateHz: rate });
        const cold = await SileroVad.create({ sampleRateHz: rate });
        const n = warm.windowSamples;
        const start = Math.round(0.8 * rate);
        const context = audio.subarray(start - 10 * n, start);
        const window = audio.subarray(start, start + n);
        warm.process(context);
        await warm.drain();
        warm.process(window);
        await warm.drain();
        cold.process(window);
        await cold.drain();
        assert.notEqual(warm.process(new Int16Array(0)), cold.process(new Int16Array(0)));
      });
    });
  }

  it('uses 32 ms windows: 512 samples at 16 kHz and 256 at 8 kHz', async () => {
    assert.equal(sileroVadDefaults.windowMs, 32);
    assert.equal((await SileroVad.create({ sampleRateHz: 16000 })).windowSamples, 512);
    assert.equal((await SileroVad.create({ sampleRateHz: 8000 })).windowSamples, 256);
    assert.equal((await SileroVad.create({ sampleRateHz: 8000, windowMs: 96 })).windowSamples, 768);
  });

  it('rejects rates the model does not support', async () => {
    await assert.rejects(SileroVad.create({ sampleRateHz: 44100 as SileroSampleRate }), RangeError);
  });

  it('shares one loaded session between instances and loads', async () => {
    const [a, b] = await Promise.all([loadSileroModel(), loadSileroModel()]);
    assert.equal(a, b);
    const v1 = await SileroVad.create({ sampleRateHz: 8000 });
    const v2 = await SileroVad.create({ sampleRateHz: 16000 });
    assert.equal(Reflect.get(v1, 'session'), a);
    assert.equal(Reflect.get(v2, 'session'), a);
  });

  it('returns immediately without waiting for inference, keeping one window pending and dropping older ones', async () => {
    const vad = await SileroVad.create({ sampleRateHz: 16000 });
    const audio = await goforwardAt(16000);
    // Ten windows in one synchronous burst: the first runs, the last waits, the eight between are dropped.
    const burst = audio.subarray(Math.round(0.8 * 16000), Math.round(0.8 * 16000) + 10 * 512);
    assert.equal(vad.process(burst), 0, 'no window can have completed synchronously');
    await vad.drain();
    assert.equal(vad.inferredWindows, 2);
    assert.equal(vad.droppedWindows, 8);
    const afterBurst = vad.process(new Int16Array(0));
    assert.ok(afterBurst > 0 && afterBurst <= 1);
  });

  it('measures inference cost per window', async (t) => {
    for (const rate of RATES) {
      const vad = await SileroVad.create({ sampleRateHz: rate });
      const audio = await goforwardAt(rate);
      const n = vad.windowSamples;
      const windows = Math.floor(audio.length / n);
      const feedAll = async (): Promise<void> => {
        for (let w = 0; w < windows; w++) {
          vad.process(audio.subarray(w * n, (w + 1) * n));
          await vad.drain();
        }
      };
      await feedAll(); // warm-up
      vad.reset();
      const before = vad.inferredWindows;
      const t0 = performance.now();
      for (let pass = 0; pass < 3; pass++) await feedAll();
      const ms = performance.now() - t0;
      const done = vad.inferredWindows - before;
      assert.equal(done, 3 * windows);
      t.diagnostic(`${rate} Hz: ${(ms / done).toFixed(3)} ms per ${n}-sample (32 ms) window, ${done} windows`);
    }
  });
});
