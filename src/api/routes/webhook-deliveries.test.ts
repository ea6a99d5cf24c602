import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { createLogger } from '../../observability/logger.js';
import { createMetrics } from '../../observability/metrics.js';
import { openStore, type Store } from '../../store/store.js';
import { buildApi } from '../app.js';
import { createPrincipalResolver, hashApiKey, requireAuth } from '../auth.js';
import { registerWebhookDeliveryRoutes } from './webhook-deliveries.js';

const ADMIN_KEY = 'admin-key-for-tests-0123456789';
const ACME_KEY = 'acme-tenant-key-0123456789';
const GLOBEX_KEY = 'globex-tenant-key-0123456789';
const T0 = Date.UTC(2025, 0, 2, 3, 4, 5);

let root: string;
let store: Store;
let app: FastifyInstance;
let kicks = 0;
const ids: Record<string, string> = {};

const as = (key: string) => ({ authorization: `Bearer ${key}` });

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'parley-deliveries-api-'));
  store = await openStore({ dataDir: root });
  const resolvePrincipal = createPrincipalResolver({
    adminKey: ADMIN_KEY,
    tenantKeys: [
      { tenantId: 'acme', keySha256Hex: hashApiKey(ACME_KEY) },
      { tenantId: 'globex', keySha256Hex: hashApiKey(GLOBEX_KEY) },
    ],
  });
  app = buildApi({ store, metrics: createMetrics({ collectDefaults: false }), logger: createLogger({ level: 'silent' }), resolvePrincipal });
  // As app.ts mounts its /v1 routes: a /v1 scope behind the auth hook.
  app.register(
    async (v1) => {
      v1.addHook('onRequest', requireAuth({ resolvePrincipal, configured: true }));
      registerWebhookDeliveryRoutes(v1, { store, dispatcher: { kick: () => kicks++ }, now: () => T0 + 99_000 });
    },
    { prefix: '/v1' },
  );
  const enqueue = async (name: string, tenantId: string, callId: string | null, atMs: number) => {
    const row = await store.deliveries.enqueue({
      tenantId,
      eventId: `evt_${name}`,
      eventType: 'call.ended',
      callId,
      url: `https://${tenantId}.example.com/hooks`,
      payload: { id: `evt_${name}`, type: 'call.ended', tenantId, data: { n: name } },
      nowMs: atMs,
    });
    ids[name] = row.id;
  };
  await enqueue('a1', 'acme', 'call_1', T0);
  await enqueue('a2', 'acme', 'call_2', T0 + 1_000);
  await enqueue('a3', 'acme', 'call_1', T0 + 2_000);
  await enqueue('g1', 'globex', 'call_9', T0 + 3_000);
  await store.deliveries.recordAttempt(ids.a1!, { status: 'failed', statusCode: 500, error: 'HTTP 500', nextAttemptAtMs: null, atMs: T0 + 500 });
  await store.deliveries.recordAttempt(ids.a2!, { status: 'delivered', statusCode: 204, error: null, nextAttemptAtMs: null, atMs: T0 + 1_200 });
});

after(async () => {
  await app.close();
  await store.close();
  await rm(root, { recursive: true, force: true });
});

describe('GET /v1/webhook-deliveries', () => {
  test("lists only the caller's tenant, newest first, without payloads", async () => {
    const res = await app.inject({ method: 'GET', url: '/v1/webhook-deliveries', headers: as(ACME_KEY) });
    assert.equal(res.statusCode, 200);
    const { data } = res.json();
    assert.deepEqual(
      data.map((d: { id: string }) => d.id),
      [ids.a3, ids.a2, ids.a1],
    );
    assert.deepEqual(data[1], {
      id: ids.a2,
      tenantId: 'acme',
      eventId: 'evt_a2',
      eventType: 'call.ended',
      callId: 'call_2',
      url: 'https://acme.example.com/hooks',
      status: 'delivered',
      attempts: 1,
      lastStatusCode: 204,
      lastError: null,
      nextAttemptAt: null,
      createdAt: '2025-01-02T03:04:06.000Z',
      deliveredAt: '2025-01-02T03:04:06.200Z',
    });
  });

  test('filters by callId, status and limit', async () => {
    const get = async (q: string) => (await app.inject({ method: 'GET', url: `/v1/webhook-deliveries?${q}`, headers: as(ACME_KEY) })).json().data.map((d: { id: string }) => d.id);
    assert.deepEqual(await get('callId=call_1'), [ids.a3, ids.a1]);
    assert.deepEqual(await get('status=failed'), [ids.a1]);
    assert.deepEqual(await get('status=pending&callId=call_1'), [ids.a3]);
    assert.deepEqual(await get('limit=1'), [ids.a3]);
  });

  test('a tenant key cannot widen its scope with ?tenantId=', async () => {
    const res = await app.inject({ method: 'GET', url: '/v1/webhook-deliveries?tenantId=globex', headers: as(ACME_KEY) });
    assert.ok(res.json().data.every((d: { tenantId: string }) => d.tenantId === 'acme'));
  });

  test('the admin key sees every tenant, or one with ?tenantId=', async () => {
    const all = (await app.inject({ method: 'GET', url: '/v1/webhook-deliveries', headers: as(ADMIN_KEY) })).json().data;
    assert.equal(all.length, 4);
    const globex = (await app.inject({ method: 'GET', url: '/v1/webhook-deliveries?tenantId=globex', headers: as(ADMIN_KEY) })).json().data;
    assert.deepEqual(
      globex.map((d: { id: string }) => d.id),
      [ids.g1],
    );
  });

  test('rejects a bad status or limit with validation_failed', async () => {
    for (const q of ['status=lost', 'limit=0', 'limit=201']) {
      const res = await app.inject({ method: 'GET', url: `/v1/webhook-deliveries?${q}`, headers: as(ACME_KEY) });
      assert.equal(res.statusCode, 400, q);
      assert.equal(res.json().error.code, 'validation_failed');
    }
  });

  test('requires a key', async () => {
    assert.equal((await app.inject({ method: 'GET', url: '/v1/webhook-deliveries' })).statusCode, 401);
  });
});

describe('GET /v1/webhook-deliveries/:id', () => {
  test('returns the delivery with its payload and last error', async () => {
    const res = await app.inject({ method: 'GET', url: `/v1/webhook-deliveries/${ids.a1}`, headers: as(ACME_KEY) });
    assert.equal(res.statusCode, 200);
    const d = res.json();
    assert.equal(d.status, 'failed');
    assert.equal(d.lastStatusCode, 500);
    assert.equal(d.lastError, 'HTTP 500');
    assert.deepEqual(d.payload, { id: 'evt_a1', type: 'call.ended', tenantId: 'acme', data: { n: 'a1' } });
  });

  test("another tenant's delivery is not_found", async () => {
    const res = await app.inject({ method: 'GET', url: `/v1/webhook-deliveries/${ids.g1}`, headers: as(ACME_KEY) });
    assert.equal(res.statusCode, 404);
    assert.equal(res.json().error.code, 'not_found');
    assert.ok(!res.body.includes('globex'));
  });
});

describe('POST /v1/webhook-deliveries/:id/redeliver', () => {
  test('puts a failed delivery back in the queue, due now, and wakes the dispatcher', async () => {
    const before = kicks;
    const res = await app.inject({ method: 'POST', url: `/v1/webhook-deliveries/${ids.a1}/redeliver`, headers: as(ACME_KEY) });
    assert.equal(res.statusCode, 202);
    assert.equal(res.json().status, 'pending');
    assert.equal(res.json().nextAttemptAt, new Date(T0 + 99_000).toISOString());
    assert.equal(kicks, before + 1);
    assert.equal((await store.deliveries.get(ids.a1!))?.status, 'pending');
  });

  test("another tenant's delivery is not_found and stays untouched", async () => {
    const before = kicks;
    const res = await app.inject({ method: 'POST', url: `/v1/webhook-deliveries/${ids.g1}/redeliver`, headers: as(ACME_KEY) });
    assert.equal(res.statusCode, 404);
    assert.equal(res.json().error.code, 'not_found');
    assert.equal(kicks, before);
    assert.equal((await store.deliveries.get(ids.g1!))?.nextAttemptAtMs, T0 + 3_000);
  });

  test('an unknown id is not_found', async () => {
    const res = await app.inject({ method: 'POST', url: '/v1/webhook-deliveries/whd_nope/redeliver', headers: as(ADMIN_KEY) });
    assert.equal(res.statusCode, 404);
  });
});
