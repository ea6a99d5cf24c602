import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { LlmDelta, LlmProvider } from '../providers/types.js';
import { pricesSchema } from '../tenants/schema.js';
import { computeCost } from './cost.js';
import { meterLlm, promptCharsOf } from './metered-llm.js';
import { CallUsageMeter, estimateTokens } from './usage-meter.js';

describe('CallUsageMeter', () => {
  test('bills carrier time per started minute', () => {
    const m = new CallUsageMeter();
    assert.equal(m.snapshot(0).carrierMinutes, 0);
    assert.equal(m.snapshot(1).carrierMinutes, 1);
    assert.equal(m.snapshot(60_000).carrierMinutes, 1);
    assert.equal(m.snapshot(60_001).carrierMinutes, 2);
    assert.equal(m.snapshot(185_000).carrierMinutes, 4);
  });

  test('adds up speech-to-text audio and synthesised characters', () => {
    const m = new CallUsageMeter();
    m.addSttAudioMs(1_250);
    m.addSttAudioMs(3_750.4);
    m.addSttAudioMs(-5);
    m.addTtsCharacters(120);
    m.addTtsCharacters(30);
    const u = m.snapshot(10_000);
    assert.equal(u.sttSeconds, 5);
    assert.equal(u.ttsCharacters, 150);
  });

  test('uses reported token counts as they are, and says nothing was estimated', () => {
    const m = new CallUsageMeter();
    const a = m.llmRequest(4_000);
    a.addCompletionChars(400);
    a.addUsage({ inputTokens: 900, outputTokens: 80 });
    m.llmRequest(10).addUsage({ inputTokens: 5, outputTokens: 1 });
    const u = m.snapshot(1);
    assert.deepEqual([u.llmInputTokens, u.llmOutputTokens, u.llmTokensEstimated], [905, 81, false]);
  });

  test('estimates ≈ 4 characters per token only for requests without reported usage', () => {
    const m = new CallUsageMeter();
    m.llmRequest(100).addUsage({ inputTokens: 30, outputTokens: 10 });
    const b = m.llmRequest(401); // 101 tokens
    b.addCompletionChars(10);
    b.addCompletionChars(3); // 13 chars → 4 tokens
    m.llmRequest(0); // aborted before anything: nothing to estimate
    const u = m.snapshot(1);
    assert.deepEqual([u.llmInputTokens, u.llmOutputTokens, u.llmTokensEstimated], [131, 14, true]);
    assert.equal(estimateTokens(0), 0);
    assert.equal(estimateTokens(1), 1);
    assert.equal(estimateTokens(8), 2);
  });
});

describe('meterLlm', () => {
  const req = {
    messages: [
      { role: 'system' as const, content: 'abcd' },
      { role: 'user' as const, content: 'hello' },
      { role: 'assistant' as const, content: '', toolCalls: [{ id: 'c', name: 'f', arguments: { a: 1 } }] },
      { role: 'tool' as const, toolCallId: 'c', content: 'ok' },
    ],
    tools: [{ name: 'f', description: 'does f', parameters: { type: 'object' } }],
  };

  test('counts every message, tool call and tool spec in the prompt', () => {
    // 4 + 5 + (0 + 1 + 7) + 2 + (1 + 6 + 17)
    assert.equal(promptCharsOf(req), 43);
  });

  test('passes every delta through and meters the reported usage', async () => {
    const deltas: LlmDelta[] = [
      { kind: 'text', text: 'Hi there' },
      { kind: 'tool_call', call: { id: 'x', name: 'end_call', arguments: {} } },
      { kind: 'usage', inputTokens: 12, outputTokens: 3 },
    ];
    const inner: LlmProvider = {
      name: 'inner',
      async *complete() {
        yield* deltas;
      },
    };
    const meter = new CallUsageMeter();
    const seen: LlmDelta[] = [];
    for await (const d of meterLlm(inner, meter).complete(req, { signal: new AbortController().signal })) seen.push(d);
    assert.deepEqual(seen, deltas);
    const u = meter.snapshot(1);
    assert.deepEqual([u.llmInputTokens, u.llmOutputTokens, u.llmTokensEstimated], [12, 3, false]);
  });

  test('estimates from the characters when the provider reports no usage', async () => {
    const inner: LlmProvider = {
      name: 'keyless',
      async *complete() {
        yield { kind: 'text', text: 'x'.repeat(40) };
      },
    };
    const meter = new CallUsageMeter();
    for await (const _ of meterLlm(inner, meter).complete(req, { signal: new AbortController().signal })) void _;
    const u = meter.snapshot(1);
    assert.deepEqual([u.llmInputTokens, u.llmOutputTokens, u.llmTokensEstimated], [11, 10, true]);
  });
});

describe('computeCost', () => {
  const usage = { carrierMinutes: 3, sttSeconds: 90, llmInputTokens: 12_345, llmOutputTokens: 678, llmTokensEstimated: false, ttsCharacters: 2_500 };

  test('prices each part from the tenant prices and sums them', () => {
    const prices = pricesSchema.parse({
      currency: 'EUR',
      carrierPerMinute: 0.0085,
      sttPerMinute: 0.0043,
      llmInputPer1kTokens: 0.00015,
      llmOutputPer1kTokens: 0.0006,
      ttsPer1kChars: 0.03,
    });
    assert.deepEqual(computeCost(usage, prices), {
      currency: 'EUR',
      carrier: 0.0255,
      stt: 0.00645,
      // 12.345 × 0.00015 + 0.678 × 0.0006 = 0.00185175 + 0.0004068 = 0.00225855 → 0.002259
      llm: 0.002259,
      tts: 0.075,
      total: 0.109209,
    });
  });

  test('rounds to 6 decimals, and the parts add up to the total', () => {
    const prices = pricesSchema.parse({ carrierPerMinute: 1 / 3, sttPerMinute: 1 / 7, ttsPer1kChars: 1 / 9 });
    const c = computeCost(usage, prices);
    for (const v of [c.carrier, c.stt, c.llm, c.tts, c.total]) assert.equal(Math.round(v * 1e6) / 1e6, v);
    assert.equal(c.total, Math.round((c.carrier + c.stt + c.llm + c.tts) * 1e6) / 1e6);
    assert.equal(c.carrier, 1);
  });

  test('costs nothing with the default prices', () => {
    assert.deepEqual(computeCost(usage, pricesSchema.parse({})), { currency: 'USD', carrier: 0, stt: 0, llm: 0, tts: 0, total: 0 });
  });
});
