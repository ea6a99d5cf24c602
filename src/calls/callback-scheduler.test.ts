import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ACME_NUMBER, type Platform, acmeTenant, startPlatform } from '../../test/support/platform.js';
import { createLogger } from '../observability/logger.js';
import { CallbackScheduler, type CallbackSchedulerOptions } from './callback-scheduler.js';

const CALLEE = '+15557654321';
let now = Date.UTC(2025, 6, 1, 9, 0, 0);
let p: Platform;

before(async () => {
  const acme = acmeTenant();
  const limited = acmeTenant((t) => ({ ...t, id: 'limited', name: 'Limited', phoneNumbers: ['+15550300000'], quotas: { dailyCalls: 0 } }));
  p = await startPlatform([acme, limited], { now: () => now });
});
after(() => p.close());

function scheduler(over: Partial<CallbackSchedulerOptions> = {}): CallbackScheduler {
  return new CallbackScheduler({
    outbound: { store: p.store, publicUrl: 'https://parley.example.com', twilioApiBaseUrl: p.twilio.url, now: () => now },
    tenants: p.tenants,
    log: createLogger({ level: 'silent' }),
    ...over,
  });
}

const book = (o: { tenantId?: string; dueInMs?: number; reason?: string; agentId?: string } = {}) =>
  p.store.callbacks.create({ tenantId: o.tenantId ?? 'acme', agentId: o.agentId ?? 'support', toNumber: CALLEE, dueAtMs: now + (o.dueInMs ?? 0), reason: o.reason ?? 'Follow up', sourceCallId: 'call_src', nowMs: now });

describe('CallbackScheduler', () => {
  test('a due callback is placed as an outbound call carrying its reason and id', async () => {
    const cb = await book({ reason: 'Confirm the delivery date' });
    const later = await book({ dueInMs: 60_000 });
    assert.equal(await scheduler().runOnce(), 1);
    const row = await p.store.callbacks.get(cb.id);
    assert.equal(row?.status, 'placed');
    assert.ok(row?.placedCallId);
    const call = await p.store.calls.get(row.placedCallId);
    assert.equal(call?.direction, 'outbound');
    assert.equal(call?.toNumber, CALLEE);
    assert.equal(call?.fromNumber, ACME_NUMBER);
    assert.deepEqual(call?.metadata.variables, { 'callback.reason': 'Confirm the delivery date', 'callback.id': cb.id });
    assert.equal(call?.metadata.source, 'callback');
    assert.equal(call?.metadata.callbackId, cb.id);
    assert.equal(p.twilio.call(call?.carrierCallSid ?? '').to, CALLEE);
    assert.equal((await p.store.callbacks.get(later.id))?.status, 'scheduled', 'not due yet');
    await p.store.callbacks.cancel(undefined, later.id, now);
  });

  test('over quota it is postponed by the retry delay, a few times, then fails', async () => {
    const cb = await book({ tenantId: 'limited' });
    const s = scheduler({ quotaRetryDelayMs: 15 * 60_000, maxQuotaRetries: 2 });
    await s.runOnce();
    let row = await p.store.callbacks.get(cb.id);
    assert.equal(row?.status, 'scheduled');
    assert.equal(row?.dueAtMs, now + 15 * 60_000);
    assert.match(row?.error ?? '', /Daily call limit reached.*\(postponed 1 of 2\)$/);
    now += 15 * 60_000;
    await s.runOnce();
    row = await p.store.callbacks.get(cb.id);
    assert.equal(row?.status, 'scheduled');
    assert.match(row?.error ?? '', /\(postponed 2 of 2\)$/);
    now += 15 * 60_000;
    await s.runOnce();
    row = await p.store.callbacks.get(cb.id);
    assert.equal(row?.status, 'failed');
    assert.match(row?.error ?? '', /Daily call limit reached/);
  });

  test('Twilio refusing the call fails the callback and names the failed call', async () => {
    const cb = await book();
    p.twilio.failNextCreate(400, 21211, 'Invalid To number');
    await scheduler().runOnce();
    const row = await p.store.callbacks.get(cb.id);
    assert.equal(row?.status, 'failed');
    assert.match(row?.error ?? '', /Invalid To number/);
    assert.equal((await p.store.calls.get(row?.placedCallId ?? ''))?.status, 'failed');
  });

  test('a callback whose agent no longer exists fails with the reason', async () => {
    const cb = await book({ agentId: 'retired' });
    await scheduler().runOnce();
    const row = await p.store.callbacks.get(cb.id);
    assert.equal(row?.status, 'failed');
    assert.match(row?.error ?? '', /unknown agent "retired"/);
  });

  test('start releases callbacks a crash left placing, then places them on its own poll', async () => {
    const cb = await book();
    const claimed = await p.store.callbacks.claimDue(now, 10);
    assert.deepEqual(claimed.map((c) => c.id), [cb.id]);
    const s = scheduler({ pollIntervalMs: 10 });
    await s.start();
    try {
      for (let i = 0; i < 200 && (await p.store.callbacks.get(cb.id))?.status !== 'placed'; i++) await new Promise((r) => setTimeout(r, 10));
      assert.equal((await p.store.callbacks.get(cb.id))?.status, 'placed');
    } finally {
      await s.stop();
    }
  });
});
