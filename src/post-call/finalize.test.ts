import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { openAiTextChunks, startFakeOpenAi, type FakeServer } from '../../test/fakes/openai-server.js';
import { createLogger } from '../observability/logger.js';
import { OpenAiLlm } from '../providers/llm/openai.js';
import { openStore, type CallUsage, type Store } from '../store/store.js';
import { tenantSchema, type TenantConfig } from '../tenants/schema.js';
import { WebhookEmitter } from '../webhooks/emitter.js';
import { finalizeCall, type FinalizeDeps } from './finalize.js';

const T0 = Date.UTC(2025, 2, 3, 10, 0, 0);
const log = createLogger({ level: 'silent' });
const SECRET = 'whsec-0123456789abcdef';

let root: string;
let store: Store;
let model: FakeServer;

const usage: CallUsage = { carrierMinutes: 2, sttSeconds: 30, llmInputTokens: 1_000, llmOutputTokens: 100, llmTokensEstimated: false, ttsCharacters: 500 };
const prices = { currency: 'USD', carrierPerMinute: 0.01, sttPerMinute: 0.006, llmInputPer1kTokens: 0.001, llmOutputPer1kTokens: 0.002, ttsPer1kChars: 0.02 };

function tenant(id: string, llm: unknown, over: Record<string, unknown> = {}): TenantConfig {
  return tenantSchema.parse({
    id,
    name: id,
    agents: {
      front: {
        greeting: 'Hello',
        llm,
        flow: { start: 'main', states: { main: { say: 'Bye', onComplete: { action: { type: 'end_call' } } } } },
        analysis: { extractionSchema: { type: 'object', properties: { reason: { type: 'string' } }, required: ['reason'] } },
      },
    },
    prices,
    webhooks: [{ url: 'https://hooks.example.com/parley', secret: SECRET, events: ['call.ended'] }],
    ...over,
  });
}

async function seedCall(id: string, tenantId: string): Promise<void> {
  await store.calls.create({ id, tenantId, agentId: 'front', direction: 'inbound', fromNumber: '+15550001111', toNumber: '+15550002222', startedAtMs: T0 });
  await store.turns.insert({ id: `${id}_t0`, callId: id, seq: 0, role: 'agent', text: 'Hello', startedAtMs: T0 + 500, endedAtMs: T0 + 1_000, interrupted: true });
  await store.turns.insert({ id: `${id}_t1`, callId: id, seq: 1, role: 'user', text: 'I need to move my booking.', startedAtMs: T0 + 2_000, endedAtMs: T0 + 4_000 });
  await store.turns.insert({ id: `${id}_t2`, callId: id, seq: 2, role: 'user', text: '', startedAtMs: T0 + 5_000 });
  await store.calls.update(id, { answeredBy: 'human' });
  await store.calls.end(id, { status: 'completed', endReason: 'caller_hangup', endedAtMs: T0 + 90_000 });
}

function deps(over: Partial<FinalizeDeps> = {}): FinalizeDeps {
  return {
    store,
    webhooks: new WebhookEmitter({ store, log }),
    createAnalysisLlm: (agent) => {
      const spec = agent.llm.find((p) => p.provider === 'openai') as { baseUrl: string; model: string } | undefined;
      return spec === undefined ? undefined : new OpenAiLlm({ baseUrl: spec.baseUrl, model: spec.model });
    },
    log,
    ...over,
  };
}

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'parley-finalize-'));
  store = await openStore({ dataDir: root });
  model = await startFakeOpenAi((req) =>
    JSON.stringify(req.body).includes('JSON Schema')
      ? { chunks: openAiTextChunks(['{"reason": "move booking"}'], { usage: { promptTokens: 200, completionTokens: 10 } }) }
      : { chunks: openAiTextChunks(['The caller asked to move a booking.'], { usage: { promptTokens: 150, completionTokens: 12 } }) },
  );
});
after(async () => {
  await model.close();
  await store.close();
  await rm(root, { recursive: true, force: true });
});

describe('finalizeCall', () => {
  test('writes usage, cost, summary and extraction to the call, then queues call.ended with all of it', async () => {
    const t = tenant('acme', [{ provider: 'openai', baseUrl: model.url, model: 'gpt-test' }, { provider: 'flow' }]);
    await seedCall('call_fin', 'acme');
    await finalizeCall(deps(), { tenant: t, agentId: 'front', callId: 'call_fin', usage });

    const call = await store.calls.get('call_fin');
    // The analysis's 350 input and 22 output tokens are part of the call's usage.
    const finalUsage = { ...usage, llmInputTokens: 1_350, llmOutputTokens: 122 };
    // 2 × 0.01 + 0.5 × 0.006 + (1.35 × 0.001 + 0.122 × 0.002) + 0.5 × 0.02
    const cost = { currency: 'USD', carrier: 0.02, stt: 0.003, llm: 0.001594, tts: 0.01, total: 0.034594 };
    assert.deepEqual(call?.usage, finalUsage);
    assert.deepEqual(call?.cost, cost);
    assert.equal(call?.summary, 'The caller asked to move a booking.');
    assert.deepEqual(call?.extraction, { reason: 'move booking' });

    const [delivery, ...more] = await store.deliveries.list({ tenantId: 'acme', callId: 'call_fin' });
    assert.equal(more.length, 0);
    assert.equal(delivery?.eventType, 'call.ended');
    assert.equal(delivery?.url, 'https://hooks.example.com/parley');
    assert.equal(delivery?.payload.type, 'call.ended');
    assert.deepEqual(delivery?.payload.data, {
      call: {
        id: 'call_fin',
        agentId: 'front',
        direction: 'inbound',
        from: '+15550001111',
        to: '+15550002222',
        status: 'completed',
        endReason: 'caller_hangup',
        startedAt: '2025-03-03T10:00:00.000Z',
        endedAt: '2025-03-03T10:01:30.000Z',
        durationMs: 90_000,
        answeredBy: 'human',
      },
      transcript: [
        { role: 'agent', text: 'Hello', startedAt: '2025-03-03T10:00:00.500Z', interrupted: true },
        { role: 'user', text: 'I need to move my booking.', startedAt: '2025-03-03T10:00:02.000Z', interrupted: false },
      ],
      usage: finalUsage,
      cost,
      summary: 'The caller asked to move a booking.',
      extraction: { reason: 'move booking' },
      recording: { available: false },
    });
  });

  test('a flow-only agent gets cost and call.ended without analysis', async () => {
    const t = tenant('flowy', { provider: 'flow' });
    await seedCall('call_flow', 'flowy');
    const requestsBefore = model.requests.length;
    await finalizeCall(deps(), { tenant: t, agentId: 'front', callId: 'call_flow', usage });

    const call = await store.calls.get('call_flow');
    assert.deepEqual(call?.usage, usage);
    assert.equal(call?.cost?.total, 0.0342);
    assert.equal(call?.summary, null);
    assert.equal(model.requests.length, requestsBefore);
    const [delivery] = await store.deliveries.list({ callId: 'call_flow' });
    const data = delivery?.payload.data as { summary: unknown; extraction: unknown; cost: { total: number } };
    assert.equal(data.summary, null);
    assert.equal(data.extraction, null);
    assert.equal(data.cost.total, 0.0342);
  });

  test('never throws: a failing analysis model still lets call.ended out', async () => {
    const t = tenant('shaky', [{ provider: 'openai', baseUrl: model.url, model: 'gpt-test' }]);
    await seedCall('call_shaky', 'shaky');
    await finalizeCall(
      deps({
        createAnalysisLlm: () => {
          throw new Error('no engines');
        },
      }),
      { tenant: t, agentId: null, callId: 'call_shaky', usage },
    );
    assert.equal((await store.deliveries.list({ callId: 'call_shaky' })).length, 1);
    assert.equal((await store.calls.get('call_shaky'))?.summary, null);
  });

  test('never rejects when the store fails', async () => {
    const t = tenant('broken', { provider: 'flow' });
    const failing = { calls: { ...store.calls, update: () => Promise.reject(new Error('disk full')) } };
    await finalizeCall(deps({ store: failing }), { tenant: t, agentId: null, callId: 'call_missing', usage });
  });
});
