import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Store } from '../store/store.js';
import { createCallerHistoryTool } from './caller-history.js';
import { BUSINESS, CALLER, contextFor, tempStore, tenantWith } from './test-support.js';

let store: Store;
let close: () => Promise<void>;
before(async () => ({ store, close } = await tempStore()));
after(() => close());

const tenant = tenantWith([{ type: 'caller_history' }]);
const DAY = 86_400_000;
const T0 = Date.parse('2026-03-01T10:00:00Z');

describe('caller_history', () => {
  it('says so when the number has never called', async () => {
    const r = await createCallerHistoryTool({ store }).run({}, contextFor(tenant));
    assert.deepEqual(r, { ok: true, data: { calls: [], message: 'No earlier calls from this number.' } });
  });

  it("lists the caller's earlier calls with this tenant, newest first, at most five, without the current call", async () => {
    // Seven earlier calls, one outbound to the caller, one for another tenant, one from another number, then the current call.
    for (let i = 0; i < 7; i++) {
      const c = await store.calls.create({ tenantId: 'acme', direction: 'inbound', fromNumber: CALLER, toNumber: BUSINESS, startedAtMs: T0 + i * DAY, answeredAtMs: T0 + i * DAY });
      await store.calls.update(c.id, { status: 'completed', endedAtMs: T0 + i * DAY + 95_400, ...(i === 6 ? { summary: 'Asked about late checkout.' } : {}) });
    }
    const out = await store.calls.create({ tenantId: 'acme', direction: 'outbound', fromNumber: BUSINESS, toNumber: CALLER, startedAtMs: T0 + 7 * DAY, status: 'ringing' });
    await store.calls.update(out.id, { status: 'no_answer', endedAtMs: T0 + 7 * DAY + 30_000 });
    await store.calls.create({ tenantId: 'other', direction: 'inbound', fromNumber: CALLER, toNumber: '+15550003333', startedAtMs: T0 + 8 * DAY });
    await store.calls.create({ tenantId: 'acme', direction: 'inbound', fromNumber: '+15550009999', toNumber: BUSINESS, startedAtMs: T0 + 8 * DAY });
    const current = await store.calls.create({ tenantId: 'acme', direction: 'inbound', fromNumber: CALLER, toNumber: BUSINESS, startedAtMs: T0 + 9 * DAY });

    const r = await createCallerHistoryTool({ store }).run({}, contextFor(tenant, { callId: current.id }));
    assert.ok(r.ok);
    const calls = (r.data as { calls: Record<string, unknown>[] }).calls;
    assert.equal(calls.length, 5);
    assert.deepEqual(calls[0], { date: '2026-03-08T10:00:00.000Z', direction: 'outbound', status: 'no_answer', durationSeconds: 0 });
    assert.deepEqual(calls[1], { date: '2026-03-07T10:00:00.000Z', direction: 'inbound', status: 'completed', durationSeconds: 95, summary: 'Asked about late checkout.' });
    assert.deepEqual(calls.map((c) => c['date']), ['2026-03-08', '2026-03-07', '2026-03-06', '2026-03-05', '2026-03-04'].map((d) => `${d}T10:00:00.000Z`));
  });

  it('shows a withheld caller nobody else’s calls', async () => {
    await store.calls.create({ tenantId: 'acme', direction: 'inbound', fromNumber: 'anonymous', toNumber: BUSINESS, startedAtMs: T0 });
    const r = await createCallerHistoryTool({ store }).run({}, contextFor(tenant, { remoteNumber: 'anonymous' }));
    assert.deepEqual(r, { ok: true, data: { calls: [], message: "The caller's number is withheld, so there is no history." } });
  });
});
