import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type AudioFrame, audioFrame } from '../audio/frame.js';
import { iterate } from '../pipeline/channel.js';
import { CircuitBreakers } from './circuit-breaker.js';
import type { LlmDelta, LlmProvider, SttProvider, TranscriptEvent, TtsProvider } from './types.js';
import { ProviderError } from './types.js';
import { FallbackLlm, FallbackStt, FallbackTts, type FallbackSwitch, remainingAfter } from './with-fallback.js';

const signal = (): AbortSignal => new AbortController().signal;

function llm(name: string, behaviour: 'ok' | 'fail' | 'stall' | 'fail-after-text', calls: string[] = []): LlmProvider {
  return {
    name,
    async *complete(_req, o): AsyncIterable<LlmDelta> {
      calls.push(name);
      if (behaviour === 'fail') throw new ProviderError(name, 'HTTP 500', true);
      if (behaviour === 'stall') {
        await new Promise<void>((resolve) => o.signal.addEventListener('abort', () => resolve(), { once: true }));
        return;
      }
      yield { kind: 'text', text: `from ${name}` };
      if (behaviour === 'fail-after-text') throw new ProviderError(name, 'dropped', true);
    },
  };
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

test('the LLM chain fails over on an error and on a first-token stall, reporting each switch', async () => {
  const switches: FallbackSwitch[] = [];
  const chain = new FallbackLlm(
    [
      { provider: llm('a', 'fail'), key: 'a' },
      { provider: llm('b', 'stall'), key: 'b' },
      { provider: llm('c', 'ok'), key: 'c' },
    ],
    { breakers: new CircuitBreakers(), onSwitch: (s) => switches.push(s), firstOutputTimeoutMs: 100 },
  );
  const out = await collect(chain.complete({ messages: [] }, { signal: signal() }));
  assert.deepEqual(out, [{ kind: 'text', text: 'from c' }]);
  assert.deepEqual(
    switches.map((s) => [s.from, s.to]),
    [
      ['a', 'b'],
      ['b', 'c'],
    ],
  );
  assert.match(switches[1]?.reason ?? '', /no output within 100 ms/);
});

test('an open breaker skips a failing provider on later requests, but the last provider is always tried', async () => {
  const calls: string[] = [];
  const breakers = new CircuitBreakers({ failureThreshold: 1, coolDownMs: 60_000 });
  const chain = new FallbackLlm(
    [
      { provider: llm('a', 'fail', calls), key: 'a' },
      { provider: llm('b', 'ok', calls), key: 'b' },
    ],
    { breakers },
  );
  await collect(chain.complete({ messages: [] }, { signal: signal() }));
  await collect(chain.complete({ messages: [] }, { signal: signal() }));
  assert.deepEqual(calls, ['a', 'b', 'b']);
  const onlyFailing = new FallbackLlm([{ provider: llm('a', 'fail', calls), key: 'a' }], { breakers });
  await assert.rejects(collect(onlyFailing.complete({ messages: [] }, { signal: signal() })), /HTTP 500/);
});

test('an LLM that fails after speaking is not replayed elsewhere', async () => {
  const chain = new FallbackLlm(
    [
      { provider: llm('a', 'fail-after-text'), key: 'a' },
      { provider: llm('b', 'ok'), key: 'b' },
    ],
    { breakers: new CircuitBreakers() },
  );
  await assert.rejects(collect(chain.complete({ messages: [] }, { signal: signal() })), /dropped/);
});

function tone(ms: number, rate = 8000): AudioFrame {
  return audioFrame(new Int16Array((rate * ms) / 1000).fill(1000), rate);
}

test('a TTS that dies mid-sentence is continued by the next one from about where it stopped', async () => {
  const heard: string[] = [];
  const dying: TtsProvider = {
    name: 'dying',
    sampleRateHz: 8000,
    async *synthesize(): AsyncIterable<AudioFrame> {
      for (let i = 0; i < 100; i++) yield tone(20); // 2 s of a sentence estimated at ~4.7 s
      throw new ProviderError('dying', 'dropped mid-stream', true);
    },
  };
  const backup: TtsProvider = {
    name: 'backup',
    sampleRateHz: 8000,
    async *synthesize(text): AsyncIterable<AudioFrame> {
      for await (const t of text) heard.push(t);
      yield tone(20);
    },
  };
  const sentence = 'The pool is open every day from seven in the morning until ten at night.';
  const chain = new FallbackTts(
    [
      { provider: dying, key: 'd' },
      { provider: backup, key: 'b' },
    ],
    { breakers: new CircuitBreakers() },
  );
  const frames = await collect(chain.synthesize(iterate(sentence), { signal: signal() }));
  assert.equal(frames.length, 101);
  assert.equal(heard.length, 1);
  assert.ok(sentence.endsWith(heard[0] as string) && (heard[0] as string).length < sentence.length * 0.8, heard[0]);
  assert.equal(remainingAfter('one two three four', 0), 'one two three four');
  assert.equal(remainingAfter('one two three four', 10_000), '');
});

test('closing a TTS chain closes every provider that holds per-call resources', async () => {
  let closes = 0;
  const stateful: TtsProvider = {
    name: 'stateful',
    sampleRateHz: 8000,
    async *synthesize(): AsyncIterable<AudioFrame> {},
    close: async () => {
      closes++;
    },
  };
  const stateless: TtsProvider = { name: 'stateless', sampleRateHz: 8000, async *synthesize(): AsyncIterable<AudioFrame> {} };
  const chain = new FallbackTts(
    [
      { provider: stateful, key: 's' },
      { provider: stateless, key: 'n' },
    ],
    { breakers: new CircuitBreakers() },
  );
  await chain.close();
  assert.equal(closes, 1);
});

test('an STT that drops mid-utterance is replaced by the next, which hears the whole utterance', async () => {
  const heardFrames: number[] = [];
  const dropping: SttProvider = {
    name: 'dropping',
    async *transcribe(audio): AsyncIterable<TranscriptEvent> {
      let n = 0;
      for await (const _ of audio) if (++n === 3) throw new ProviderError('dropping', 'socket closed', true);
    },
    close: async () => {},
  };
  const good: SttProvider = {
    name: 'good',
    async *transcribe(audio): AsyncIterable<TranscriptEvent> {
      let n = 0;
      for await (const _ of audio) n++;
      heardFrames.push(n);
      yield { kind: 'final', text: 'hello' };
    },
    close: async () => {},
  };
  const switches: FallbackSwitch[] = [];
  const chain = new FallbackStt(
    [
      { provider: dropping, key: 'x' },
      { provider: good, key: 'g' },
    ],
    { breakers: new CircuitBreakers(), onSwitch: (s) => switches.push(s) },
  );
  const out = await collect(chain.transcribe(iterate(...Array.from({ length: 10 }, () => tone(20))), { signal: signal() }));
  assert.deepEqual(out, [{ kind: 'final', text: 'hello' }]);
  assert.deepEqual(heardFrames, [10]);
  assert.equal(switches[0]?.from, 'dropping');
});

test('an STT that never delivers the final after the turn ends is abandoned', async () => {
  const silent: SttProvider = {
    name: 'silent',
    async *transcribe(audio, o): AsyncIterable<TranscriptEvent> {
      for await (const _ of audio);
      await new Promise<void>((resolve) => o.signal.addEventListener('abort', () => resolve(), { once: true }));
    },
    close: async () => {},
  };
  const good: SttProvider = {
    name: 'good',
    async *transcribe(audio): AsyncIterable<TranscriptEvent> {
      for await (const _ of audio);
      yield { kind: 'final', text: 'ok' };
    },
    close: async () => {},
  };
  const chain = new FallbackStt(
    [
      { provider: silent, key: 's' },
      { provider: good, key: 'g' },
    ],
    { breakers: new CircuitBreakers(), firstOutputTimeoutMs: 100 },
  );
  const ac = new AbortController();
  const out = await collect(chain.transcribe(iterate(tone(20)), { signal: ac.signal }));
  assert.deepEqual(out, [{ kind: 'final', text: 'ok' }]);
  ac.abort();
});

test('prepare() readies the STT the first utterance will start with: the first whose circuit is not open', async () => {
  const prepared: string[] = [];
  const stt = (name: string): SttProvider => ({
    name,
    async *transcribe(audio): AsyncIterable<TranscriptEvent> {
      for await (const _ of audio);
      yield { kind: 'final', text: '' };
    },
    prepare: (rate) => prepared.push(`${name}@${rate}`),
    close: async () => {},
  });
  const breakers = new CircuitBreakers({ failureThreshold: 1, coolDownMs: 60_000 });
  const chain = new FallbackStt(
    [
      { provider: stt('a'), key: 'a' },
      { provider: stt('b'), key: 'b' },
    ],
    { breakers },
  );
  chain.prepare(8000);
  assert.deepEqual(prepared, ['a@8000']);
  breakers.recordFailure('a');
  chain.prepare(16000);
  assert.deepEqual(prepared, ['a@8000', 'b@16000']);
});

test('prepare() readies the LLM the next request will start with: the first whose circuit is not open', async () => {
  const prepared: string[] = [];
  const llm = (name: string): LlmProvider => ({
    name,
    async *complete(): AsyncIterable<LlmDelta> {},
    prepare: () => prepared.push(name),
  });
  const breakers = new CircuitBreakers({ failureThreshold: 1, coolDownMs: 60_000 });
  const chain = new FallbackLlm(
    [
      { provider: llm('a'), key: 'a' },
      { provider: llm('b'), key: 'b' },
    ],
    { breakers },
  );
  chain.prepare();
  breakers.recordFailure('a');
  chain.prepare();
  assert.deepEqual(prepared, ['a', 'b']);
});

test('prepare() readies the TTS the first sentence will start with: the first whose circuit is not open', async () => {
  const prepared: string[] = [];
  const tts = (name: string): TtsProvider => ({
    name,
    sampleRateHz: 8000,
    async *synthesize(): AsyncIterable<AudioFrame> {},
    prepare: () => prepared.push(name),
  });
  const breakers = new CircuitBreakers({ failureThreshold: 1, coolDownMs: 60_000 });
  const chain = new FallbackTts(
    [
      { provider: tts('a'), key: 'a' },
      { provider: tts('b'), key: 'b' },
    ],
    { breakers },
  );
  chain.prepare();
  breakers.recordFailure('a');
  chain.prepare();
  assert.deepEqual(prepared, ['a', 'b']);
});
