import { after, before, describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { audioFrame, type AudioFrame } from '../../audio/frame.js';
import { speakWithFlite } from '../../audio/flite-voice.js';
import { resample } from '../../audio/resampler.js';
import { readWavFile } from '../../audio/wav.js';
import { ProviderError, type TranscriptEvent } from '../types.js';
import { PocketsphinxEngine } from './pocketsphinx-engine.js';
import { PocketsphinxStt, cleanHypothesis } from './pocketsphinx.js';
import { wordErrorRate } from './wer.js';
import { sharedDataPath } from '../../../test/support/shared-data.js';

const SPEECH = sharedDataPath('speech');
/** Per-test-file WER bound: generous for a small general-purpose model, tight enough to catch breakage. */
const MAX_WER = 0.3;

async function* framesOf(samples: Int16Array, sampleRateHz: number, frameMs = 20): AsyncIterable<AudioFrame> {
  const n = (sampleRateHz * frameMs) / 1000;
  for (let i = 0; i < samples.length; i += n) yield audioFrame(samples.slice(i, i + n), sampleRateHz);
}

async function run(stt: PocketsphinxStt, audio: AsyncIterable<AudioFrame>, signal = new AbortController().signal): Promise<TranscriptEvent[]> {
  const events: TranscriptEvent[] = [];
  for await (const ev of stt.transcribe(audio, { signal })) events.push(ev);
  return events;
}

/** A provider that is closed when the test ends, even if an assertion fails first. */
function provider(t: TestContext, engine: PocketsphinxEngine): PocketsphinxStt {
  const stt = new PocketsphinxStt(engine, {});
  t.after(() => stt.close());
  return stt;
}

function finalText(events: readonly TranscriptEvent[]): string {
  const finals = events.filter((e) => e.kind === 'final');
  assert.equal(finals.length, 1, 'exactly one final');
  assert.equal(events.at(-1)?.kind, 'final', 'final comes last');
  return finals[0]?.text ?? '';
}

describe('PocketsphinxStt', () => {
  let engine: PocketsphinxEngine;
  before(() => {
    engine = new PocketsphinxEngine({ workerCount: 2, maxDecoders: 4 });
  });
  after(async () => {
    await engine.close();
  });

  it('transcribes real 16 kHz speech with partials along the way', async (t) => {
    const wav = await readWavFile(`${SPEECH}/goforward.wav`);
    const stt = provider(t, engine);
    const events = await run(stt, framesOf(wav.samples, wav.sampleRateHz));
    assert.equal(finalText(events), 'go forward ten meters');
    const partials = events.filter((e) => e.kind === 'partial').map((e) => e.text);
    assert.ok(partials.length >= 2, `partials: ${JSON.stringify(partials)}`);
    assert.ok(partials.every((p, i) => p.length > 0 && p !== partials[i - 1]), 'partials only when the text changes');
    await stt.close();
  });

  it('upsamples 8 kHz real speech and decodes several utterances on one decoder', async (t) => {
    const stt = provider(t, engine);
    const decodersBefore = engine.stats().decoders;
    // Real narrowband speech: goforward band-limited to 8 kHz (held out from the narrowband CMN prior).
    const goforward = await readWavFile(`${SPEECH}/goforward.wav`);
    const at8k = resample(goforward.samples, goforward.sampleRateHz, 8000);
    const events8k = await run(stt, framesOf(at8k, 8000));
    assert.equal(finalText(events8k), 'go forward ten meters');
    // Telephone audio gets partials too (endpointing reads them while the caller talks).
    assert.ok(events8k.filter((e) => e.kind === 'partial').length >= 2, 'partials for 8 kHz input');
    // Isolated FSDD digits against the general 130k-word LM are unreliable (15 of 60 decode exactly);
    // these two, from the held-out speaker, decode correctly and guard the 8 kHz path.
    for (const [file, digit] of [['2_jackson_0.wav', 'two'], ['9_jackson_0.wav', 'nine']] as const) {
      const wav = await readWavFile(`${SPEECH}/fsdd_8k/${file}`);
      assert.equal(wav.sampleRateHz, 8000);
      assert.equal(finalText(await run(stt, framesOf(wav.samples, 8000))), digit);
    }
    assert.ok(engine.stats().decoders <= decodersBefore + 1, 'all utterances used the one leased decoder');
    t.diagnostic(`decoders after three utterances: ${engine.stats().decoders}`);
    await stt.close();
  });

  it('transcribes flite speech within the WER bound at 16 kHz and at 8 kHz', async (t) => {
    const stt = provider(t, engine);
    const cases = [
      { text: 'i would like to book a room for three nights', rateHz: 16000 },
      { text: 'can you tell me my account balance please', rateHz: 8000 },
      { text: 'i need to reschedule my appointment to next tuesday', rateHz: 8000 },
    ];
    for (const c of cases) {
      const samples = await speakWithFlite(c.text, { sampleRateHz: c.rateHz });
      const hyp = finalText(await run(stt, framesOf(samples, c.rateHz)));
      const wer = wordErrorRate(c.text, hyp);
      t.diagnostic(`${c.rateHz} Hz WER ${wer.toFixed(2)}: "${hyp}"`);
      assert.ok(wer <= MAX_WER, `WER ${wer} for "${hyp}"`);
    }
    await stt.close();
  });

  it('decodes three calls in parallel, each with its own decoder', async (t) => {
    const texts = ['yes that is correct', 'i would like to book a table for two people', 'please book a room for three nights'];
    const audio = await Promise.all(texts.map((text) => speakWithFlite(text, { sampleRateHz: 16000 })));
    const stts = texts.map(() => provider(t, engine));
    const hyps = await Promise.all(stts.map(async (stt, i) => finalText(await run(stt, framesOf(audio[i]!, 16000)))));
    hyps.forEach((hyp, i) => assert.ok(wordErrorRate(texts[i]!, hyp) <= MAX_WER, `"${texts[i]}" → "${hyp}"`));
    assert.ok(engine.stats().inUse >= 3);
    await Promise.all(stts.map((s) => s.close()));
  });

  it('abort ends a stalled utterance without a final and leaves the decoder clean', async (t) => {
    const stt = provider(t, engine);
    const wav = await readWavFile(`${SPEECH}/goforward.wav`);
    const ac = new AbortController();
    async function* stalls(): AsyncIterable<AudioFrame> {
      yield* framesOf(wav.samples.subarray(0, 16000), 16000); // "go for..."
      ac.abort();
      await new Promise(() => {}); // the caller's audio never ends by itself
    }
    const events = await run(stt, stalls(), ac.signal);
    assert.ok(events.every((e) => e.kind === 'partial'), 'no final after abort');
    // The next utterance starts from scratch: nothing of the aborted audio leaks into it.
    assert.equal(finalText(await run(stt, framesOf(wav.samples, 16000))), 'go forward ten meters');
    await stt.close();
  });

  it('yields exactly one empty final for an utterance with no audio', async (t) => {
    const stt = provider(t, engine);
    assert.deepEqual(await run(stt, framesOf(new Int16Array(0), 16000)), [{ kind: 'final', text: '' }]);
    await stt.close();
  });

  it('prepare() leases the call’s decoder before the first utterance, which then uses it; close() returns it', async (t) => {
    const stt = provider(t, engine);
    const inUse = engine.stats().inUse;
    stt.prepare();
    for (let i = 0; i < 500 && engine.stats().inUse === inUse; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(engine.stats().inUse, inUse + 1, 'leased ahead of any audio');
    await run(stt, framesOf(new Int16Array(3200), 16000));
    assert.equal(engine.stats().inUse, inUse + 1, 'the utterance used the prepared decoder');
    await stt.close();
    assert.equal(engine.stats().inUse, inUse);
  });

  it('close() returns the decoder to the pool, is idempotent, and ends the provider', async (t) => {
    const stt = provider(t, engine);
    await run(stt, framesOf(new Int16Array(3200), 16000));
    const inUse = engine.stats().inUse;
    await stt.close();
    await stt.close();
    assert.equal(engine.stats().inUse, inUse - 1);
    await assert.rejects(run(stt, framesOf(new Int16Array(320), 16000)), ProviderError);
  });

  it('close() during an utterance stops it and releases the decoder', async (t) => {
    const stt = provider(t, engine);
    const wav = await readWavFile(`${SPEECH}/goforward.wav`);
    let fed = 0;
    let markFlowing!: () => void;
    const flowing = new Promise<void>((r) => (markFlowing = r));
    async function* endless(): AsyncIterable<AudioFrame> {
      for (;;)
        for await (const f of framesOf(wav.samples, 16000)) {
          if (++fed === 10) markFlowing();
          yield f;
          await new Promise((r) => setImmediate(r));
        }
    }
    const iterating = run(stt, endless());
    await Promise.race([flowing, iterating]); // a failure to start surfaces instead of hanging
    const inUse = engine.stats().inUse;
    await stt.close();
    const events = await iterating;
    assert.ok(events.every((e) => e.kind === 'partial'));
    assert.equal(engine.stats().inUse, inUse - 1);
  });

  it('rejects a second concurrent utterance on the same provider', async (t) => {
    const stt = provider(t, engine);
    const ac = new AbortController();
    async function* never(): AsyncIterable<AudioFrame> {
      await new Promise(() => {});
    }
    const first = stt.transcribe(never(), { signal: ac.signal })[Symbol.asyncIterator]();
    const firstDone = first.next();
    await assert.rejects(run(stt, framesOf(new Int16Array(320), 16000)), /one utterance at a time/);
    ac.abort();
    assert.equal((await firstDone).done, true);
    await stt.close();
  });
});

describe('PocketsphinxStt when its decoder worker dies', () => {
  it('fails the utterance in flight with ProviderError and recovers with a fresh decoder', async (t) => {
    const engine = new PocketsphinxEngine({ workerCount: 1, maxDecoders: 2 });
    t.after(() => engine.close());
    const stt = provider(t, engine);
    const wav = await readWavFile(`${SPEECH}/goforward.wav`);
    const neighbour = await engine.acquire(); // same (only) worker as the provider's decoder
    let killed = false;
    async function* killsMidway(): AsyncIterable<AudioFrame> {
      for await (const f of framesOf(wav.samples, 16000)) {
        yield f;
        if (!killed) {
          killed = true;
          await engine.killWorkerOf(neighbour);
        }
      }
    }
    await assert.rejects(run(stt, killsMidway()), (err: unknown) => err instanceof ProviderError && err.retryable);
    assert.equal(neighbour.usable, false);
    assert.equal(finalText(await run(stt, framesOf(wav.samples, 16000))), 'go forward ten meters');
  });
});

describe('cleanHypothesis', () => {
  it('drops fillers and pronunciation variants and lowercases', () => {
    assert.equal(cleanHypothesis('<s> GO <sil> forward(2) [noise] ++BREATH++ ten meters </s>'), 'go forward ten meters');
    assert.equal(cleanHypothesis('  <sil>  '), '');
  });
});
