import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { openStore, type Store } from '../store/store.js';
import { type TenantConfig, tenantSchema } from '../tenants/schema.js';
import { nextUtcMidnight, secondsToNextUtcMidnight, startOfUtcDay } from './day.js';
import { CONCURRENCY_RETRY_AFTER_S, checkQuotas } from './quotas.js';
import { tenantUsageToday } from './usage.js';

/** 2025-03-10 22:00:00 UTC: two hours before the daily reset. */
const NOW = Date.UTC(2025, 2, 10, 22, 0, 0);
const TODAY = Date.UTC(2025, 2, 10);
let root: string;
let store: Store;
let seq = 0;

function tenant(id: string, quotas: Record<string, unknown>): TenantConfig {
  return tenantSchema.parse({ id, name: id, agent: { greeting: 'Hi.', llm: { provider: 'openai' } }, quotas, prices: { currency: 'EUR' } });
}

async function call(tenantId: string, o: { startedAtMs: number; answeredAtMs?: number; endedAtMs?: number; cost?: number; live?: boolean }): Promise<void> {
  const row = await store.calls.create({ id: `call_${++seq}`, tenantId, direction: 'inbound', fromNumber: 'a', toNumber: 'b', startedAtMs: o.startedAtMs, answeredAtMs: o.answeredAtMs ?? null });
  if (o.live) return;
  await store.calls.end(row.id, { status: 'completed', endReason: 'caller_hangup', endedAtMs: o.endedAtMs ?? o.startedAtMs + 60_000 });
  if (o.cost !== undefined) await store.calls.update(row.id, { cost: { currency: 'EUR', carrier: 0, stt: 0, llm: 0, tts: 0, total: o.cost } });
}

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'parley-quotas-'));
  store = await openStore({ dataDir: root });
});
after(async () => {
  await store.close();
  await rm(root, { recursive: true, force: true });
});

describe('UTC day window', () => {
  test('starts at 00:00 UTC and resets at the next midnight', () => {
    assert.equal(startOfUtcDay(NOW), TODAY);
    assert.equal(nextUtcMidnight(NOW), TODAY + 86_400_000);
    assert.equal(secondsToNextUtcMidnight(NOW), 7_200);
    assert.equal(secondsToNextUtcMidnight(TODAY + 86_400_000 - 1), 1);
  });
});

describe('checkQuotas', () => {
  test('a tenant without limits is always allowed', async () => {
    const t = tenant('nolimits', {});
    await call(t.id, { startedAtMs: NOW - 1000, live: true });
    assert.deepEqual(await checkQuotas(store, t, NOW), { ok: true });
  });

  test('concurrent calls at the limit refuse the next one with a short Retry-After', async () => {
    const t = tenant('concurrent', { maxConcurrentCalls: 2 });
    await call(t.id, { startedAtMs: NOW - 5000, live: true });
    assert.equal((await checkQuotas(store, t, NOW)).ok, true, 'one live call of two');
    await call(t.id, { startedAtMs: NOW - 4000, live: true });
    const r = await checkQuotas(store, t, NOW);
    assert.equal(r.ok, false);
    assert.ok(!r.ok);
    assert.equal(r.quota, 'max_concurrent_calls');
    assert.equal(r.retryAfterS, CONCURRENCY_RETRY_AFTER_S);
    assert.equal(r.limit, 2);
    assert.equal(r.used, 2);
  });

  test('ended calls do not count against concurrency', async () => {
    const t = tenant('ended', { maxConcurrentCalls: 1 });
    await call(t.id, { startedAtMs: NOW - 120_000 });
    assert.deepEqual(await checkQuotas(store, t, NOW), { ok: true });
  });

  test('daily calls count from 00:00 UTC and retry at midnight', async () => {
    const t = tenant('daily', { dailyCalls: 2 });
    await call(t.id, { startedAtMs: TODAY - 60_000 }); // yesterday
    await call(t.id, { startedAtMs: TODAY + 1_000 });
    assert.equal((await checkQuotas(store, t, NOW)).ok, true);
    await call(t.id, { startedAtMs: TODAY + 2_000 });
    const r = await checkQuotas(store, t, NOW);
    assert.ok(!r.ok);
    assert.equal(r.quota, 'daily_calls');
    assert.equal(r.retryAfterS, 7_200);
    assert.match(r.message, /2 calls/);
  });

  test('daily minutes count answered time, live calls up to now', async () => {
    const t = tenant('minutes', { dailyMinutes: 10 });
    await call(t.id, { startedAtMs: TODAY + 1_000, answeredAtMs: TODAY + 1_000, endedAtMs: TODAY + 1_000 + 6 * 60_000 });
    await call(t.id, { startedAtMs: NOW - 3 * 60_000, answeredAtMs: NOW - 3 * 60_000, live: true });
    assert.equal((await checkQuotas(store, t, NOW)).ok, true, '9 minutes of 10');
    const r = await checkQuotas(store, t, NOW + 60_000);
    assert.ok(!r.ok);
    assert.equal(r.quota, 'daily_minutes');
  });

  test('daily budget compares the cost of today\'s calls', async () => {
    const t = tenant('budget', { dailyBudget: 1 });
    await call(t.id, { startedAtMs: TODAY + 1_000, cost: 0.6 });
    assert.equal((await checkQuotas(store, t, NOW)).ok, true);
    await call(t.id, { startedAtMs: TODAY + 2_000, cost: 0.4 });
    const r = await checkQuotas(store, t, NOW);
    assert.ok(!r.ok);
    assert.equal(r.quota, 'daily_budget');
    assert.match(r.message, /EUR/);
  });

  test('an exhausted daily limit is reported before concurrency (its Retry-After is the honest one)', async () => {
    const t = tenant('both', { dailyCalls: 1, maxConcurrentCalls: 1 });
    await call(t.id, { startedAtMs: NOW - 1000, live: true });
    const r = await checkQuotas(store, t, NOW);
    assert.ok(!r.ok);
    assert.equal(r.quota, 'daily_calls');
  });
});

describe('tenantUsageToday', () => {
  test('reports calls, minutes, cost and live calls with their limits', async () => {
    const t = tenant('usage', { dailyCalls: 100, dailyBudget: 5 });
    await call(t.id, { startedAtMs: TODAY + 1_000, answeredAtMs: TODAY + 1_000, endedAtMs: TODAY + 1_000 + 90_000, cost: 0.25 });
    await call(t.id, { startedAtMs: NOW - 30_000, answeredAtMs: NOW - 30_000, live: true });
    assert.deepEqual(await tenantUsageToday(store, t, NOW), {
      tenantId: 'usage',
      since: '2025-03-10T00:00:00.000Z',
      resetsAt: '2025-03-11T00:00:00.000Z',
      calls: { used: 2, limit: 100 },
      minutes: { used: 2, limit: null },
      cost: { used: 0.25, limit: 5, currency: 'EUR' },
      concurrentCalls: { used: 1, limit: null },
    });
  });
});
