import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { detectDtmf, dtmfFrequencies, dtmfTones } from './dtmf.js';
import { SUPPORTED_RATES_HZ } from './frame.js';
import { mulawDecode, mulawEncode } from './mulaw.js';

const ALL_KEYS = '0123456789*#ABCD';
const MINUS_10_DBFS = 32767 * 10 ** (-10 / 20);

/** Deterministic pseudo-random numbers in [-1, 1). */
function noise(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  };
}

/** Amplitude of `hz` in x (correlation against sine and cosine). */
function amplitudeAt(x: Int16Array, hz: number, rate: number): number {
  let re = 0;
  let im = 0;
  for (let i = 0; i < x.length; i++) {
    re += (x[i] as number) * Math.cos((2 * Math.PI * hz * i) / rate);
    im += (x[i] as number) * Math.sin((2 * Math.PI * hz * i) / rate);
  }
  return (2 * Math.hypot(re, im)) / x.length;
}

describe('dtmfTones', () => {
  it('uses the ITU-T Q.23 frequency pairs', () => {
    assert.deepEqual(dtmfFrequencies('1'), [697, 1209]);
    assert.deepEqual(dtmfFrequencies('5'), [770, 1336]);
    assert.deepEqual(dtmfFrequencies('9'), [852, 1477]);
    assert.deepEqual(dtmfFrequencies('0'), [941, 1336]);
    assert.deepEqual(dtmfFrequencies('*'), [941, 1209]);
    assert.deepEqual(dtmfFrequencies('#'), [941, 1477]);
    assert.deepEqual(dtmfFrequencies('D'), [941, 1633]);
    assert.equal(dtmfFrequencies('w'), undefined);
  });

  it('is 100 ms of tone and 60 ms of silence per key, and 500 ms of silence per w', () => {
    const x = dtmfTones('1w2', 8000);
    assert.equal(x.length, 800 + 480 + 4000 + 800 + 480);
    assert.ok(x.subarray(800, 800 + 480 + 4000).every((s) => s === 0), 'gap and pause are silent');
    assert.ok(x.subarray(20, 780).some((s) => Math.abs(s) > 10_000), 'tone is loud');
    assert.equal(dtmfTones('', 8000).length, 0);
  });

  it('puts each frequency at about −10 dBFS and never clips', () => {
    const x = dtmfTones('D', 8000).subarray(0, 800);
    for (const hz of [941, 1633]) {
      const a = amplitudeAt(x.subarray(40, 760), hz, 8000);
      assert.ok(Math.abs(a / MINUS_10_DBFS - 1) < 0.05, `${hz} Hz at ${(20 * Math.log10(a / 32767)).toFixed(1)} dBFS`);
    }
    for (const k of ALL_KEYS) {
      const peak = dtmfTones(k, 48000).reduce((m, s) => Math.max(m, Math.abs(s)), 0);
      assert.ok(peak <= 2 * MINUS_10_DBFS + 1 && peak < 32767, `${k} peaks at ${peak}`);
    }
  });

  it('refuses characters that are not keys', () => {
    assert.throws(() => dtmfTones('12x', 8000), RangeError);
    assert.throws(() => dtmfTones('1', 0), RangeError);
  });
});

describe('detectDtmf', () => {
  for (const rate of SUPPORTED_RATES_HZ) {
    it(`decodes every key at ${rate} Hz`, () => {
      assert.equal(detectDtmf(dtmfTones(ALL_KEYS, rate), rate), ALL_KEYS);
    });
  }

  it('decodes every key after a mu-law round trip, including repeated keys and pauses', () => {
    const keys = `${ALL_KEYS}1111w00w#`;
    const through = mulawDecode(mulawEncode(dtmfTones(keys, 8000)));
    assert.equal(detectDtmf(through, 8000), keys.replaceAll('w', ''));
  });

  it('decodes quiet tones in light noise', () => {
    const rnd = noise(7);
    const x = dtmfTones('8675309', 8000).map((s) => Math.round(s * 0.05 + rnd() * 100));
    assert.equal(detectDtmf(mulawDecode(mulawEncode(x)), 8000), '8675309');
  });

  it('finds nothing in silence, noise, a single tone or a voiced sound', () => {
    const rate = 8000;
    const rnd = noise(42);
    const white = new Int16Array(rate).map(() => Math.round(rnd() * 8000));
    const single = new Int16Array(rate).map((_, i) => Math.round(10_000 * Math.sin((2 * Math.PI * 770 * i) / rate)));
    // A vowel-like buzz: harmonics of 150 Hz, several near DTMF frequencies (750, 1350 Hz).
    const vowel = new Int16Array(rate).map((_, i) => {
      let v = 0;
      for (let h = 1; h <= 20; h++) v += (3000 / h) * Math.sin((2 * Math.PI * 150 * h * i) / rate);
      return Math.round(v);
    });
    assert.equal(detectDtmf(new Int16Array(rate), rate), '');
    assert.equal(detectDtmf(white, rate), '');
    assert.equal(detectDtmf(single, rate), '');
    assert.equal(detectDtmf(vowel, rate), '');
  });
});
