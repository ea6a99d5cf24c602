import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createLogger } from '../observability/logger.js';
import { openStore, type Store } from '../store/store.js';
import { tenantSchema, type TenantConfig, type TenantInput } from '../tenants/schema.js';
import { WebhookEmitter } from './emitter.js';

const T0 = Date.UTC(2025, 4, 6, 7, 8, 9);
let root: string;
let store: Store;

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'parley-emitter-'));
  store = await openStore({ dataDir: root });
});
after(async () => {
  await store.close();
  await rm(root, { recursive: true, force: true });
});

function tenant(id: string, webhooks: TenantInput['webhooks']): TenantConfig {
  return tenantSchema.parse({ id, name: id, agent: { greeting: 'Hi', llm: { provider: 'openai', model: 'm' } }, webhooks });
}

const secret = 'whsec-0123456789abcdef';

describe('WebhookEmitter', () => {
  test('queues one delivery per subscribed endpoint, sharing one event envelope', async () => {
    const t = tenant('subs', [
      { url: 'https://a.example.com/h', secret },
      { url: 'https://b.example.com/h', secret, events: ['call.ended'] },
      { url: 'https://c.example.com/h', secret, events: ['tool.called'] },
      { url: 'https://a.example.com/h', secret, events: ['call.ended'] },
    ]);
    let kicks = 0;
    const emitter = new WebhookEmitter({ store, log: createLogger({ level: 'silent' }), now: () => T0, onEnqueued: () => kicks++ });
    await emitter.emit(t, 'call.ended', { call: { id: 'call_x' } }, 'call_x');

    const rows = await store.deliveries.list({ tenantId: 'subs' });
    assert.deepEqual(rows.map((r) => r.url).sort(), ['https://a.example.com/h', 'https://b.example.com/h']);
    assert.equal(kicks, 1);
    for (const r of rows) {
      assert.equal(r.status, 'pending');
      assert.equal(r.eventType, 'call.ended');
      assert.equal(r.callId, 'call_x');
      assert.equal(r.nextAttemptAtMs, T0);
      assert.equal(r.eventId, rows[0]?.eventId);
      assert.deepEqual(r.payload, {
        id: r.eventId,
        type: 'call.ended',
        createdAt: '2025-05-06T07:08:09.000Z',
        tenantId: 'subs',
        data: { call: { id: 'call_x' } },
      });
    }
  });

  test('queues nothing for a tenant without a subscribed endpoint', async () => {
    let kicks = 0;
    const emitter = new WebhookEmitter({ store, log: createLogger({ level: 'silent' }), onEnqueued: () => kicks++ });
    await emitter.emit(tenant('nosubs', [{ url: 'https://a.example.com/h', secret, events: ['tool.called'] }]), 'call.started', {});
    await emitter.emit(tenant('nohooks', []), 'call.started', {});
    assert.equal((await store.deliveries.list({ tenantId: 'nosubs' })).length, 0);
    assert.equal(kicks, 0);
  });

  test('never rejects when the store fails; it logs instead', async () => {
    const lines: string[] = [];
    const log = createLogger({ level: 'error', destination: { write: (line: string) => lines.push(line) } });
    const failing = { deliveries: { ...store.deliveries, enqueue: () => Promise.reject(new Error('disk full')) } };
    const emitter = new WebhookEmitter({ store: failing, log });
    await emitter.emit(tenant('broken', [{ url: 'https://a.example.com/h', secret }]), 'call.started', {});
    assert.equal(lines.length, 1);
    assert.match(lines[0] ?? '', /could not queue webhook event/);
    assert.match(lines[0] ?? '', /disk full/);
  });
});
