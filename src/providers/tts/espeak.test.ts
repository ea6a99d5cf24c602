import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { AudioFrame } from '../../audio/frame.js';
import { concatPcm16, rmsDbfs } from '../../audio/pcm16.js';
import { ProviderError } from '../types.js';
import { EspeakTts, WavStreamReader, sanitizeText } from './espeak.js';

async function* texts(...chunks: string[]): AsyncIterable<string> {
  yield* chunks;
}

async function collect(frames: AsyncIterable<AudioFrame>): Promise<AudioFrame[]> {
  const out: AudioFrame[] = [];
  for await (const f of frames) out.push(f);
  return out;
}

/** espeak-ng processes that are children of this test process (zombies included: `ps` lists them). */
function espeakChildren(): string[] {
  let out = '';
  try {
    out = execFileSync('ps', ['-o', 'pid=,stat=,comm=', '--ppid', String(process.pid)], { encoding: 'utf8' });
  } catch {
    return []; // ps exits 1 when there are no children
  }
  return out.split('\n').filter((l) => l.includes('espeak'));
}

function wavHeader(sampleRateHz: number): Buffer {
  const h = Buffer.alloc(44);
  h.write('RIFF', 0, 'latin1');
  h.writeUInt32LE(0x7ffff024, 4); // streaming placeholder, as espeak writes
  h.write('WAVEfmt ', 8, 'latin1');
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20);
  h.writeUInt16LE(1, 22);
  h.writeUInt32LE(sampleRateHz, 24);
  h.writeUInt32LE(sampleRateHz * 2, 28);
  h.writeUInt16LE(2, 32);
  h.writeUInt16LE(16, 34);
  h.write('data', 36, 'latin1');
  h.writeUInt32LE(0x7ffff000, 40);
  return h;
}

describe('EspeakTts', () => {
  it('synthesizes a sentence into more than 0.5 s of audible 22050 Hz audio in ~20 ms frames', async (t) => {
    const tts = new EspeakTts();
    const started = performance.now();
    let firstAudioMs = -1;
    const frames: AudioFrame[] = [];
    for await (const f of tts.synthesize(texts('Thank you for calling. How can I help you today?'), {
      signal: new AbortController().signal,
    })) {
      if (firstAudioMs < 0) firstAudioMs = performance.now() - started;
      frames.push(f);
    }
    assert.equal(tts.sampleRateHz, 22050);
    assert.ok(frames.every((f) => f.sampleRateHz === 22050));
    assert.ok(frames.slice(0, -1).every((f) => f.samples.length === 441), 'all but the last frame are 20 ms');
    const all = concatPcm16(frames.map((f) => f.samples));
    assert.ok(all.length / 22050 > 0.5, `only ${all.length} samples`);
    assert.ok(rmsDbfs(all) > -40, `level ${rmsDbfs(all).toFixed(1)} dBFS`);
    t.diagnostic(`time to first audio ${firstAudioMs.toFixed(1)} ms, ${(all.length / 22050).toFixed(2)} s of audio`);
  });

  it('speaks each chunk and skips chunks that are empty or whitespace', async () => {
    const tts = new EspeakTts();
    const signal = new AbortController().signal;
    assert.equal((await collect(tts.synthesize(texts('', '   ', '\n\t\u0007'), { signal }))).length, 0);
    const one = await collect(tts.synthesize(texts('Hello.'), { signal }));
    const two = await collect(tts.synthesize(texts('Hello.', ' ', 'Hello.'), { signal }));
    const len = (fs: AudioFrame[]): number => fs.reduce((n, f) => n + f.samples.length, 0);
    assert.equal(len(two), 2 * len(one));
  });

  it('abort after the first frame kills espeak-ng and yields nothing more', async () => {
    const tts = new EspeakTts();
    const ac = new AbortController();
    const long = 'This is a long announcement that keeps going for quite a while. '.repeat(200);
    let frames = 0;
    let runningAtFirstFrame: string[] = [];
    for await (const _ of tts.synthesize(texts(long), { signal: ac.signal })) {
      frames++;
      if (frames === 1) {
        runningAtFirstFrame = espeakChildren();
        ac.abort();
      }
    }
    assert.equal(frames, 1);
    assert.equal(runningAtFirstFrame.length, 1, 'espeak-ng was running when we aborted');
    assert.deepEqual(espeakChildren(), [], 'no espeak-ng child (running or zombie) remains');
  });

  it('a consumer that stops iterating early also kills the process', async () => {
    const tts = new EspeakTts();
    const long = 'Another long message that would take many seconds to speak aloud. '.repeat(200);
    for await (const _ of tts.synthesize(texts(long), { signal: new AbortController().signal })) break;
    assert.deepEqual(espeakChildren(), []);
  });

  it('passes text as a single argument, never through a shell', async () => {
    const marker = `/tmp/parley-espeak-injection-${process.pid}`;
    const tts = new EspeakTts();
    const frames = await collect(
      tts.synthesize(texts(`-x "; touch ${marker}; $(touch ${marker}) \`touch ${marker}\``), {
        signal: new AbortController().signal,
      }),
    );
    assert.ok(frames.length > 0);
    assert.equal(existsSync(marker), false);
  });

  it('a missing binary throws ProviderError', async () => {
    const tts = new EspeakTts({ binary: '/nonexistent/espeak-ng' });
    await assert.rejects(collect(tts.synthesize(texts('hello'), { signal: new AbortController().signal })), (err: unknown) => {
      assert.ok(err instanceof ProviderError);
      assert.match(err.message, /cannot run \/nonexistent\/espeak-ng: .*ENOENT/);
      return true;
    });
  });

  it('a non-zero exit throws ProviderError carrying stderr', async () => {
    const tts = new EspeakTts({ voice: 'nonexistentvoice' });
    await assert.rejects(collect(tts.synthesize(texts('hello'), { signal: new AbortController().signal })), (err: unknown) => {
      assert.ok(err instanceof ProviderError);
      assert.match(err.message, /exited with code 1: .*voice does not exist/);
      return true;
    });
  });
});

describe('sanitizeText', () => {
  it('turns control characters into spaces and trims', () => {
    assert.equal(sanitizeText('\u0000hi\nthere\u001b[0m\u0085 '), 'hi there [0m');
  });
});

describe('WavStreamReader', () => {
  const samples = Int16Array.from({ length: 1000 }, (_, i) => ((i * 37) % 2000) - 1000);
  const wav = Buffer.concat([wavHeader(22050), Buffer.from(samples.buffer)]);

  it('yields the same samples however the stream is split, even mid-header and mid-sample', () => {
    for (const step of [1, 3, 45, 883, wav.length]) {
      const reader = new WavStreamReader(22050);
      const frames: AudioFrame[] = [];
      for (let i = 0; i < wav.length; i += step) frames.push(...reader.push(wav.subarray(i, i + step)));
      frames.push(...reader.end());
      assert.deepEqual(concatPcm16(frames.map((f) => f.samples)), samples, `step ${step}`);
      assert.ok(frames.slice(0, -1).every((f) => f.samples.length === 441), `step ${step}: 20 ms frames`);
    }
  });

  it('converts a stream at another rate to the requested output rate', () => {
    const reader = new WavStreamReader(22050);
    const frames = [...reader.push(Buffer.concat([wavHeader(16000), Buffer.from(samples.buffer)])), ...reader.end()];
    assert.ok(frames.every((f) => f.sampleRateHz === 22050));
    const n = frames.reduce((acc, f) => acc + f.samples.length, 0);
    assert.ok(n >= Math.floor((1000 * 22050) / 16000), `${n} samples`);
  });

  it('rejects a stream that is not WAV', () => {
    const reader = new WavStreamReader(22050);
    assert.throws(() => reader.push(Buffer.from('this is not a riff file at all')), ProviderError);
  });
});
