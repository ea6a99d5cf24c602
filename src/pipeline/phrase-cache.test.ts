import assert from 'node:assert/strict';
import { test } from 'node:test';
import { audioFrame, type AudioFrame } from '../audio/frame.js';
import type { CallOptions, TtsProvider } from '../providers/types.js';
import { CachingTts, PhraseCache, sentencesOf } from './phrase-cache.js';

/** A TTS that counts its syntheses and answers one 20 ms frame per character. */
function countingTts(): TtsProvider & { calls: string[] } {
  const calls: string[] = [];
  return {
    name: 'counting',
    sampleRateHz: 8000,
    calls,
    async *synthesize(text: AsyncIterable<string>, o: CallOptions): AsyncIterable<AudioFrame> {
      let full = '';
      for await (const t of text) full += t;
      calls.push(full);
      for (let i = 0; i < full.length; i++) {
        if (o.signal.aborted) return;
        yield audioFrame(new Int16Array(160).fill(i), 8000);
      }
    },
  };
}

async function speak(tts: TtsProvider, text: string, signal = new AbortController().signal, take = Infinity): Promise<number> {
  let n = 0;
  for await (const _ of tts.synthesize((async function* () { yield text; })(), { signal })) if (++n >= take) break;
  return n;
}

test('a cacheable sentence is synthesised once; later calls get the same audio without the TTS', async () => {
  const inner = countingTts();
  const cache = new PhraseCache();
  const greeting = 'Thank you for calling the Seaview Hotel.';
  const tts = new CachingTts(inner, cache, 'voice', new Set([greeting]));
  assert.equal(await speak(tts, greeting), greeting.length);
  assert.equal(await speak(new CachingTts(inner, cache, 'voice', new Set([greeting])), greeting), greeting.length);
  assert.deepEqual(inner.calls, [greeting]);
  await speak(tts, 'Something else entirely.');
  await speak(tts, 'Something else entirely.');
  assert.equal(inner.calls.length, 3, 'other text is never cached');
  await speak(new CachingTts(inner, cache, 'another voice', new Set([greeting])), greeting);
  assert.equal(inner.calls.length, 4, 'the cache is per voice');
});

test('a synthesis cut short is not cached, and the cache stays within its byte budget', async () => {
  const inner = countingTts();
  const cache = new PhraseCache(320 * 20);
  const tts = new CachingTts(inner, cache, 'v', new Set(['Hello there, friend.', 'A much longer sentence than fits.']));
  const stop = new AbortController();
  await speak(tts, 'Hello there, friend.', stop.signal, 3);
  stop.abort();
  await speak(tts, 'Hello there, friend.', stop.signal);
  assert.equal(cache.sizeBytes, 0, 'nothing stored from aborted syntheses');
  await speak(tts, 'A much longer sentence than fits.');
  assert.equal(cache.sizeBytes, 0, 'an entry over the budget is not stored');
});

test('closing the caching TTS closes the provider it wraps (its per-call socket), and tolerates one without close', async () => {
  let closed = 0;
  const inner = Object.assign(countingTts(), { close: async () => void closed++ });
  await new CachingTts(inner, new PhraseCache(1 << 20), 'v', new Set()).close();
  assert.equal(closed, 1);
  await new CachingTts(countingTts(), new PhraseCache(1 << 20), 'v', new Set()).close();
});

test('sentences are cut the way replies are spoken', () => {
  assert.deepEqual(sentencesOf('Thank you for calling the Seaview Hotel. How can I help you today?'), ['Thank you for calling the Seaview Hotel.', 'How can I help you today?']);
});
