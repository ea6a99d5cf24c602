import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { EnergyVad, energyVadDefaults } from './energy-vad.js';
import { rmsDbfs } from './pcm16.js';
import { parseWav } from './wav.js';
import { sharedDataPath } from '../../test/support/shared-data.js';

const SPEECH_DIR = sharedDataPath('speech');

function load(name: string): { samples: Int16Array; sampleRateHz: number } {
  return parseWav(readFileSync(join(SPEECH_DIR, name)));
}

/** Splits into 20 ms frames (a trailing partial frame is dropped). */
function frames(samples: Int16Array, sampleRateHz: number): Int16Array[] {
  const n = sampleRateHz / 50;
  const out: Int16Array[] = [];
  for (let i = 0; i + n <= samples.length; i += n) out.push(samples.subarray(i, i + n));
  return out;
}

function scores(vad: EnergyVad, samples: Int16Array): number[] {
  return frames(samples, vad.sampleRateHz).map((f) => vad.process(f));
}

/** Uniform white noise at the given RMS level (deterministic LCG). */
function whiteNoise(length: number, dbfs: number, seed = 1): Int16Array {
  const peak = 32768 * 10 ** (dbfs / 20) * Math.sqrt(3); // uniform: RMS = peak / √3
  const out = new Int16Array(length);
  let s = seed;
  for (let i = 0; i < length; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    out[i] = Math.round(((s / 0x100000000) * 2 - 1) * peak);
  }
  return out;
}

function concat(...parts: Int16Array[]): Int16Array {
  const out = new Int16Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

const fraction = (xs: number[], pred: (x: number) => boolean): number => xs.filter(pred).length / xs.length;

test('digital silence and -60 dBFS white noise are not speech on at least 98% of frames', () => {
  for (const sampleRateHz of [8000, 16000]) {
    const tenSeconds = sampleRateHz * 10;
    for (const [label, signal] of [['zeros', new Int16Array(tenSeconds)], ['noise', whiteNoise(tenSeconds, -60)]] as const) {
      const p = scores(new EnergyVad({ sampleRateHz }), signal);
      assert.ok(fraction(p, (x) => x < 0.5) >= 0.98, `${label} at ${sampleRateHz} Hz`);
    }
  }
});

test('most of the middle second of goforward.wav is speech, its leading silence is not', () => {
  const { samples, sampleRateHz } = load('goforward.wav');
  const p = scores(new EnergyVad({ sampleRateHz }), samples);
  const mid = Math.floor(p.length / 2);
  const middleSecond = p.slice(mid - 25, mid + 25);
  assert.ok(fraction(middleSecond, (x) => x > 0.5) >= 0.6, `middle second: ${middleSecond.map((x) => (x > 0.5 ? '#' : '.')).join('')}`);
  // The first 0.4 s is room noise around -55..-60 dBFS before "go".
  assert.ok(p.slice(0, 20).every((x) => x < 0.5));
});

test('jfk.wav: loud phrases are speech and the crowd-noise pause between them is not', () => {
  const { samples, sampleRateHz } = load('jfk.wav');
  const p = scores(new EnergyVad({ sampleRateHz }), samples);
  // Frames are 20 ms. 0.70–0.94 s: "And so my fellow Americans" at -15..-8 dBFS; 2.2–3.1 s: pause with
  // applause-like background around -40 dBFS.
  assert.ok(fraction(p.slice(35, 47), (x) => x > 0.5) === 1);
  assert.ok(fraction(p.slice(110, 155), (x) => x < 0.5) >= 0.95);
});

test('across all fixture recordings (8 and 16 kHz), loud frames are speech and quiet frames are not', () => {
  // Frame levels are measured on the raw signal; the detector must agree with the obvious cases.
  const names = [
    ...readdirSync(join(SPEECH_DIR, 'fsdd_8k')).map((f) => `fsdd_8k/${f}`),
    ...readdirSync(SPEECH_DIR).filter((f) => f.endsWith('.wav')),
  ];
  assert.ok(names.length >= 70);
  let loud = 0;
  let loudSpeech = 0;
  let quiet = 0;
  let quietSpeech = 0;
  for (const name of names) {
    const { samples, sampleRateHz } = load(name);
    const vad = new EnergyVad({ sampleRateHz });
    for (const f of frames(samples, sampleRateHz)) {
      const level = rmsDbfs(f);
      const isSpeech = vad.process(f) > 0.5;
      if (level >= -30) {
        loud++;
        if (isSpeech) loudSpeech++;
      } else if (level <= -50) {
        quiet++;
        if (isSpeech) quietSpeech++;
      }
    }
  }
  assert.ok(loud > 1500 && quiet > 300, `loud ${loud}, quiet ${quiet}`);
  assert.ok(loudSpeech / loud >= 0.97, `loud frames detected: ${loudSpeech}/${loud}`);
  assert.equal(quietSpeech, 0);
});

test('speech after a long silence is detected within 3 frames', () => {
  const { samples, sampleRateHz } = load('goforward.wav');
  const speech = samples.subarray(25 * 320); // "go" starts at frame 25 (0.50 s)
  for (const lead of [new Int16Array(sampleRateHz * 10), whiteNoise(sampleRateHz * 10, -60, 3)]) {
    const vad = new EnergyVad({ sampleRateHz });
    const p = scores(vad, concat(lead, speech));
    const leadFrames = 500;
    assert.ok(p.slice(0, leadFrames).every((x) => x < 0.5));
    assert.ok(p.slice(leadFrames, leadFrames + 3).some((x) => x > 0.5), `onset: ${p.slice(leadFrames, leadFrames + 5).map((x) => x.toFixed(2))}`);
  }
  // Same at 8 kHz with an FSDD digit whose onset is abrupt.
  const digit = load('fsdd_8k/0_george_0.wav');
  const p8 = scores(new EnergyVad({ sampleRateHz: 8000 }), concat(new Int16Array(80000), digit.samples));
  assert.ok(p8.slice(500, 503).some((x) => x > 0.5));
});

test('a new steady background noise stops counting as speech within a second', () => {
  const vad = new EnergyVad({ sampleRateHz: 8000 });
  scores(vad, new Int16Array(16000));
  const p = scores(vad, whiteNoise(8000 * 4, -35, 5));
  assert.ok(p.slice(50).every((x) => x < 0.5), `still speech after 1 s: ${p.map((x) => (x > 0.5 ? '#' : '.')).join('')}`);
  assert.ok(vad.noiseFloorDbfs > -40, `floor ${vad.noiseFloorDbfs}`);
});

test('mains hum is filtered out before measuring energy', () => {
  const hum = Int16Array.from({ length: 16000 * 2 }, (_, i) => Math.round(1036 * Math.sin((2 * Math.PI * 60 * i) / 16000))); // -33 dBFS
  const filtered = scores(new EnergyVad({ sampleRateHz: 16000 }), hum);
  assert.ok(filtered.every((x) => x < 0.5));
  // Control: without the high-pass the same hum starts out looking like speech.
  const unfiltered = scores(new EnergyVad({ sampleRateHz: 16000, highPassHz: 0 }), hum);
  assert.ok(unfiltered.slice(0, 3).every((x) => x > 0.5));
});

test('thresholdDb and minEnergyDbfs move the decision', () => {
  // Amplitude 200 → RMS 141 → -47.3 dBFS: 12.7 dB above the initial -60 dBFS floor, but under the -45 gate.
  const tone = Int16Array.from({ length: 160 }, (_, i) => Math.round(200 * Math.sin((2 * Math.PI * 1000 * i) / 8000)));
  assert.ok(new EnergyVad({ sampleRateHz: 8000 }).process(tone) < 0.5);
  assert.ok(new EnergyVad({ sampleRateHz: 8000, minEnergyDbfs: -55 }).process(tone) > 0.5);
  assert.ok(new EnergyVad({ sampleRateHz: 8000, minEnergyDbfs: -55, thresholdDb: 25 }).process(tone) < 0.5);
});

test('reset restores the initial state', () => {
  const { samples, sampleRateHz } = load('goforward.wav');
  const vad = new EnergyVad({ sampleRateHz });
  const first = scores(vad, samples);
  scores(vad, whiteNoise(sampleRateHz * 3, -30));
  vad.reset();
  assert.equal(vad.noiseFloorDbfs, energyVadDefaults.noiseFloorMinDbfs);
  assert.deepEqual(scores(vad, samples), first);
});

test('frames of any length are accepted; an empty frame scores 0; bad options throw', () => {
  const vad = new EnergyVad({ sampleRateHz: 16000 });
  assert.equal(vad.process(new Int16Array(0)), 0);
  assert.ok(vad.process(whiteNoise(123, -20)) > 0.5);
  assert.throws(() => new EnergyVad({ sampleRateHz: 0 }), RangeError);
  assert.throws(() => new EnergyVad({ sampleRateHz: 8000, highPassHz: 4000 }), RangeError);
});
