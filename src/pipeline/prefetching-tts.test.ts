import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AudioFrame } from '../audio/frame.js';
import type { CallOptions, TtsProvider } from '../providers/types.js';
import { iterate } from './channel.js';
import { PrefetchingTts } from './prefetching-tts.js';
import { frame, RATE } from './session-test-support.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Yields `frames` frames per request, `gapMs` apart; records each request and whether it was aborted. */
class PacedTts implements TtsProvider {
  readonly name = 'paced';
  readonly sampleRateHz = RATE;
  readonly requests: { text: string; signal: AbortSignal }[] = [];
  failWith: Error | undefined;
  constructor(
    private readonly frames = 5,
    private readonly gapMs = 10,
  ) {}
  async *synthesize(text: AsyncIterable<string>, o: CallOptions): AsyncIterable<AudioFrame> {
    let full = '';
    for await (const t of text) full += t;
    this.requests.push({ text: full, signal: o.signal });
    for (let i = 0; i < this.frames; i++) {
      await sleep(this.gapMs);
      if (this.failWith) throw this.failWith;
      if (o.signal.aborted) return;
      yield frame(true, i);
    }
  }
}

async function collect(tts: TtsProvider, text: string, signal = new AbortController().signal): Promise<AudioFrame[]> {
  const out: AudioFrame[] = [];
  for await (const f of tts.synthesize(iterate(text), { signal })) out.push(f);
  return out;
}

test('a request for the prefetched text gets the audio made before it was asked for, without a second synthesis', async () => {
  const inner = new PacedTts(5, 5);
  const tts = new PrefetchingTts(inner);
  tts.prefetch('from seven.');
  await sleep(100); // all five frames are ready before anyone asks
  const frames = await collect(tts, 'from seven.');
  assert.equal(frames.length, 5);
  assert.deepEqual(
    inner.requests.map((r) => r.text),
    ['from seven.'],
  );
});

test('frames still being synthesised when the request comes are streamed as they arrive, in order', async () => {
  const inner = new PacedTts(8, 15);
  const tts = new PrefetchingTts(inner);
  tts.prefetch('The pool opens at nine.');
  await sleep(40); // two or three frames ready
  const frames = await collect(tts, 'The pool opens at nine.');
  const expected = Array.from({ length: 8 }, (_, i) => frame(true, i).samples);
  assert.deepEqual(
    frames.map((f) => f.samples),
    expected,
  );
  assert.equal(inner.requests.length, 1);
});

test('a request for other text discards the prefetch, stops its synthesis and reports its characters as unused', async () => {
  const inner = new PacedTts(50, 10);
  const unused: number[] = [];
  const tts = new PrefetchingTts(inner, (n) => unused.push(n));
  tts.prefetch('from seven.');
  await sleep(30);
  const frames = await collect(tts, 'Something else entirely.');
  assert.equal(frames.length, 50);
  assert.deepEqual(
    inner.requests.map((r) => r.text),
    ['from seven.', 'Something else entirely.'],
  );
  assert.equal(inner.requests[0]!.signal.aborted, true, 'the unused synthesis was stopped');
  assert.deepEqual(unused, ['from seven.'.length]);
});

test('cancel discards the prefetch; a later request for its text is synthesised afresh', async () => {
  const inner = new PacedTts(3, 5);
  const unused: number[] = [];
  const tts = new PrefetchingTts(inner, (n) => unused.push(n));
  tts.prefetch('from seven.');
  await sleep(2);
  tts.cancel();
  assert.equal(inner.requests[0]!.signal.aborted, true);
  assert.deepEqual(unused, [11]);
  assert.equal((await collect(tts, 'from seven.')).length, 3);
  assert.equal(inner.requests.length, 2);
});

test('aborting the request that took the prefetch stops its synthesis', async () => {
  const inner = new PacedTts(100, 10);
  const tts = new PrefetchingTts(inner);
  tts.prefetch('A long sentence.');
  const stop = new AbortController();
  let got = 0;
  for await (const _ of tts.synthesize(iterate('A long sentence.'), { signal: stop.signal })) {
    if (++got === 3) stop.abort();
  }
  assert.equal(got, 3);
  assert.equal(inner.requests[0]!.signal.aborted, true);
});

test('a prefetch the provider failed fails the request with the provider error', async () => {
  const inner = new PacedTts(5, 5);
  inner.failWith = new Error('tts down');
  const tts = new PrefetchingTts(inner);
  tts.prefetch('from seven.');
  await sleep(30);
  await assert.rejects(collect(tts, 'from seven.'), /tts down/);
});

test('close discards the prefetch and closes the provider', async () => {
  const inner = new PacedTts(50, 10);
  let closed = false;
  const tts = new PrefetchingTts(Object.assign(inner, { close: async () => void (closed = true) }));
  tts.prefetch('from seven.');
  await sleep(2);
  await tts.close();
  assert.equal(inner.requests[0]!.signal.aborted, true);
  assert.equal(closed, true);
});
