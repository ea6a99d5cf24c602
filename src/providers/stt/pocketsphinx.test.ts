import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { audioFrame, type AudioFrame } from '../../audio/frame.js';
import { speakWithFlite } from '../../audio/flite-voice.js';
import { readWavFile } from '../../audio/wav.js';
import { ProviderError, type TranscriptEvent } from '../types.js';
import { PocketsphinxEngine } from './pocketsphinx-engine.js';
import { PocketsphinxStt, cleanHypothesis } from './pocketsphinx.js';
import { wordErrorRate } from './wer.js';

const SPEECH = '/work/shared/data/speech';
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

  it('transcribes real 16 kHz speech with partials along the way', async () => {
    const wav = await readWavFile(`${SPEECH}/goforward.wav`);
    const stt = new PocketsphinxStt(engine, {});
    const events = await run(stt, framesOf(wav.samples, wav.sampleRateHz));
    assert.equal(finalText(events), 'go forward ten meters');
    const partials = events.filter((e) => e.kind === 'partial').map((e) => e.text);
    assert.ok(partials.length >= 2, `partials: ${JSON.stringify(partials)}`);
    assert.ok(partials.every((p, i) => p.length > 0 && p !== partials[i - 1]), 'partials only when the text changes');
    await stt.close();
  });

  it('upsamples 8 kHz real speech (a spoken digit) and decodes two utterances on one decoder', async (t) => {
    // Isolated digits against the general 130k-word LM are unreliable (17 of the 60 FSDD files decode
    // exactly); these two decode correctly and guard the 8 kHz path against regressions.
    const stt = new PocketsphinxStt(engine, {});
    const decodersBefore = engine.stats().decoders;
    const one = await readWavFile(`${SPEECH}/fsdd_8k/1_jackson_0.wav`);
    const nine = await readWavFile(`${SPEECH}/fsdd_8k/9_jackson_0.wav`);
    assert.equal(one.sampleRateHz, 8000);
    assert.equal(finalText(await run(stt, framesOf(one.samples, 8000))), 'one');
    assert.equal(finalText(await run(stt, framesOf(nine.samples, 8000))), 'nine');
    assert.ok(engine.stats().decoders <= decodersBefore + 1, 'both utterances used the same leased decoder');
    t.diagnostic(`decoders after two utterances: ${engine.stats().decoders}`);
    await stt.close();
  });

  it('transcribes flite speech within the WER bound at 16 kHz and at 8 kHz', async (t) => {
    const stt = new PocketsphinxStt(engine, {});
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

  it('decodes three calls in parallel, each with its own decoder', async () => {
    const texts = ['yes that is correct', 'i would like to book a table for two people', 'please book a room for three nights'];
    const audio = await Promise.all(texts.map((text) => speakWithFlite(text, { sampleRateHz: 16000 })));
    const stts = texts.map(() => new PocketsphinxStt(engine, {}));
    const hyps = await Promise.all(stts.map(async (stt, i) => finalText(await run(stt, framesOf(audio[i]!, 16000)))));
    hyps.forEach((hyp, i) => assert.ok(wordErrorRate(texts[i]!, hyp) <= MAX_WER, `"${texts[i]}" → "${hyp}"`));
    assert.ok(engine.stats().inUse >= 3);
    await Promise.all(stts.map((s) => s.close()));
  });

  it('abort ends a stalled utterance without a final and leaves the decoder clean', async () => {
    const stt = new PocketsphinxStt(engine, {});
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

  it('yields exactly one empty final for an utterance with no audio', async () => {
    const stt = new PocketsphinxStt(engine, {});
    assert.deepEqual(await run(stt, framesOf(new Int16Array(0), 16000)), [{ kind: 'final', text: '' }]);
    await stt.close();
  });

  it('close() returns the decoder to the pool, is idempotent, and ends the provider', async () => {
    const stt = new PocketsphinxStt(engine, {});
    await run(stt, framesOf(new Int16Array(3200), 16000));
    const inUse = engine.stats().inUse;
    await stt.close();
    await stt.close();
    assert.equal(engine.stats().inUse, inUse - 1);
    await assert.rejects(run(stt, framesOf(new Int16Array(320), 16000)), ProviderError);
  });

  it('close() during an utterance stops it and releases the decoder', async () => {
    const stt = new PocketsphinxStt(engine, {});
    const wav = await readWavFile(`${SPEECH}/goforward.wav`);
    let fed = 0;
    async function* endless(): AsyncIterable<AudioFrame> {
      for (;;) for await (const f of framesOf(wav.samples, 16000)) {
        fed++;
        yield f;
        await new Promise((r) => setImmediate(r));
      }
    }
    const iterating = run(stt, endless());
    while (fed < 10) await new Promise((r) => setImmediate(r));
    const inUse = engine.stats().inUse;
    await stt.close();
    const events = await iterating;
    assert.ok(events.every((e) => e.kind === 'partial'));
    assert.equal(engine.stats().inUse, inUse - 1);
  });

  it('rejects a second concurrent utterance on the same provider', async () => {
    const stt = new PocketsphinxStt(engine, {});
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

describe('cleanHypothesis', () => {
  it('drops fillers and pronunciation variants and lowercases', () => {
    assert.equal(cleanHypothesis('<s> GO <sil> forward(2) [noise] ++BREATH++ ten meters </s>'), 'go forward ten meters');
    assert.equal(cleanHypothesis('  <sil>  '), '');
  });
});
