// Token-usage deltas through the LLM fallback chain (kept apart from with-fallback.test.ts).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CircuitBreakers } from './circuit-breaker.js';
import type { LlmDelta, LlmProvider } from './types.js';
import { FallbackLlm, type FallbackSwitch } from './with-fallback.js';

const signal = (): AbortSignal => new AbortController().signal;

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

/** Reports usage at once, then says nothing until aborted: accepted but silent. */
const usageThenStall: LlmProvider = {
  name: 'usage-then-stall',
  async *complete(_req, o): AsyncIterable<LlmDelta> {
    yield { kind: 'usage', inputTokens: 50, outputTokens: 0 };
    await new Promise<void>((resolve) => o.signal.addEventListener('abort', () => resolve(), { once: true }));
  },
};

/** Reports usage before its text, as a provider might. */
const usageFirst: LlmProvider = {
  name: 'usage-first',
  async *complete(): AsyncIterable<LlmDelta> {
    yield { kind: 'usage', inputTokens: 20, outputTokens: 3 };
    yield { kind: 'text', text: 'hello' };
  },
};

test('a usage delta does not count as first output: a provider that only reports usage still stalls over', async () => {
  const switches: FallbackSwitch[] = [];
  const chain = new FallbackLlm(
    [
      { provider: usageThenStall, key: 'a' },
      { provider: usageFirst, key: 'b' },
    ],
    { breakers: new CircuitBreakers(), onSwitch: (s) => switches.push(s), firstOutputTimeoutMs: 50 },
  );
  const out = await collect(chain.complete({ messages: [] }, { signal: signal() }));
  assert.deepEqual(
    switches.map((s) => [s.from, s.to]),
    [['usage-then-stall', 'usage-first']],
  );
  assert.match(switches[0]?.reason ?? '', /no output within 50 ms/);
  // The stalled attempt's usage is dropped; the answering provider's passes through, after its text.
  assert.deepEqual(out, [
    { kind: 'text', text: 'hello' },
    { kind: 'usage', inputTokens: 20, outputTokens: 3 },
  ]);
});

test('usage reported after the text passes through unchanged', async () => {
  const last: LlmProvider = {
    name: 'last',
    async *complete(): AsyncIterable<LlmDelta> {
      yield { kind: 'text', text: 'a' };
      yield { kind: 'usage', inputTokens: 1, outputTokens: 2 };
    },
  };
  const chain = new FallbackLlm([{ provider: last, key: 'x' }, { provider: usageFirst, key: 'y' }], { breakers: new CircuitBreakers() });
  assert.deepEqual(await collect(chain.complete({ messages: [] }, { signal: signal() })), [
    { kind: 'text', text: 'a' },
    { kind: 'usage', inputTokens: 1, outputTokens: 2 },
  ]);
});
