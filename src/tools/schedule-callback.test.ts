import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Store } from '../store/store.js';
import { runTool } from './registry.js';
import { createScheduleCallbackTool, resolveCallbackTime } from './schedule-callback.js';
import { BUSINESS, CALLER, contextFor, tempStore, tenantWith } from './test-support.js';

const NOW = Date.parse('2026-03-10T12:00:00Z');
let store: Store;
let close: () => Promise<void>;
before(async () => ({ store, close } = await tempStore()));
after(() => close());

const tenant = tenantWith([{ type: 'schedule_callback' }]);

describe('schedule_callback', () => {
  it('stores a callback to the caller from the business number, linked to this call', async () => {
    const tool = createScheduleCallbackTool({ store });
    const r = await tool.run({ inMinutes: 90, reason: 'quote for a double room' }, contextFor(tenant, {}, NOW));
    assert.ok(r.ok);
    const data = r.data as { callbackId: string; at: string };
    assert.equal(data.at, '2026-03-10T13:30:00.000Z');
    const row = await store.callbacks.get(data.callbackId, { tenantId: 'acme' });
    assert.ok(row);
    assert.equal(row.toNumber, CALLER);
    assert.equal(row.fromNumber, BUSINESS);
    assert.equal(row.agentId, 'default');
    assert.equal(row.sourceCallId, 'call_test');
    assert.equal(row.dueAtMs, NOW + 90 * 60_000);
    assert.equal(row.reason, 'quote for a double room');
    assert.equal(row.status, 'scheduled');
  });

  it('reads an ISO date-time with its offset', async () => {
    const r = await createScheduleCallbackTool({ store }).run({ at: '2026-03-11T09:15:00-05:00' }, contextFor(tenant, {}, NOW));
    assert.ok(r.ok);
    assert.equal((r.data as { at: string }).at, '2026-03-11T14:15:00.000Z');
  });

  it('refuses past times, times over 30 days ahead, times without an offset and ambiguous requests', () => {
    assert.match(err(resolveCallbackTime({ at: '2026-03-10T11:59:00Z' }, NOW)), /in the past/);
    assert.match(err(resolveCallbackTime({ at: '2026-04-09T12:00:01Z' }, NOW)), /at most 30 days ahead/);
    assert.deepEqual(resolveCallbackTime({ at: '2026-04-09T12:00:00Z' }, NOW), { dueAtMs: NOW + 30 * 86_400_000 });
    assert.match(err(resolveCallbackTime({ at: '2026-03-11T09:15:00' }, NOW)), /with an offset/);
    assert.match(err(resolveCallbackTime({ at: 'tomorrow at nine' }, NOW)), /with an offset/);
    assert.match(err(resolveCallbackTime({ at: '2026-02-30T09:15:00Z' }, NOW)), /not a real date-time/);
    assert.match(err(resolveCallbackTime({}, NOW)), /exactly one of/);
    assert.match(err(resolveCallbackTime({ at: '2026-03-11T09:15:00Z', inMinutes: 5 }, NOW)), /exactly one of/);
  });

  it('stores nothing when it refuses', async () => {
    const beforeCount = (await store.callbacks.list({ tenantId: 'acme' })).length;
    const r = await runTool(createScheduleCallbackTool({ store }), { inMinutes: 0 }, contextFor(tenant, {}, NOW));
    assert.equal(r.ok, false);
    const withheld = await createScheduleCallbackTool({ store }).run({ inMinutes: 5 }, contextFor(tenant, { remoteNumber: 'anonymous' }, NOW));
    assert.equal(withheld.ok, false);
    assert.equal((await store.callbacks.list({ tenantId: 'acme' })).length, beforeCount);
  });
});

function err(r: { dueAtMs: number } | { error: string }): string {
  return 'error' in r ? r.error : `due ${new Date(r.dueAtMs).toISOString()}`;
}
