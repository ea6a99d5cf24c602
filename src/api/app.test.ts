import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { createLogger } from '../observability/logger.js';
import { createMetrics } from '../observability/metrics.js';
import { openStore, type Store } from '../store/store.js';
import { buildApi, type ApiDeps } from './app.js';
import { createPrincipalResolver, hashApiKey } from './auth.js';

const ADMIN_KEY = 'admin-key-for-tests-0123456789';
const ACME_KEY = 'acme-tenant-key';
const T0 = Date.UTC(2025, 0, 2, 3, 4, 5);

let root: string;
let store: Store;
const apps: FastifyInstance[] = [];

function makeApp(over: Partial<ApiDeps> = {}): FastifyInstance {
  const app = buildApi({
    store,
    metrics: createMetrics({ collectDefaults: false }),
    logger: createLogger({ level: 'silent' }),
    adminKey: ADMIN_KEY,
    ...over,
  });
  apps.push(app);
  return app;
}

const admin = { authorization: `Bearer ${ADMIN_KEY}` };

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'parley-api-'));
  store = await openStore({ dataDir: root });
  // acme: one detailed, ended call + 4 more; globex: one call.
  await store.calls.create({
    id: 'call_detail',
    tenantId: 'acme',
    agentId: 'support',
    carrierCallSid: 'CA0000000000000000000000000000abcd',
    streamSid: 'MZ1',
    direction: 'inbound',
    fromNumber: '+15550001111',
    toNumber: '+15550002222',
    startedAtMs: T0,
    answeredAtMs: T0 + 500,
    metadata: { custom: { plan: 'gold' } },
  });
  await store.turns.insert({ id: 'tu1', callId: 'call_detail', seq: 1, role: 'user', text: 'What are your hours?', startedAtMs: T0 + 2_000, endedAtMs: T0 + 3_000, latency: { endpointingMs: 210, sttFinalMs: 80 } });
  await store.turns.insert({ id: 'tu0', callId: 'call_detail', seq: 0, role: 'agent', text: 'Hi, Acme here.', startedAtMs: T0 + 600, endedAtMs: T0 + 1_800, interrupted: true });
  await store.turns.update('tu1', { latency: { llmFirstTokenMs: 300, ttsFirstAudioMs: 120, voiceToVoiceMs: 750, parleyOverheadMs: 12 } });
  await store.events.append({ callId: 'call_detail', atMs: T0 + 1, type: 'stream.started', data: { streamSid: 'MZ1' } });
  await store.events.append({ callId: 'call_detail', atMs: T0 + 1_700, type: 'barge_in' });
  await store.calls.end('call_detail', { status: 'completed', endReason: 'caller_hangup', endedAtMs: T0 + 60_000 });
  for (let i = 1; i <= 4; i++) {
    await store.calls.create({ id: `call_acme_${i}`, tenantId: 'acme', direction: 'outbound', fromNumber: 'a', toNumber: 'b', startedAtMs: T0 + i * 1_000 });
  }
  await store.calls.create({ id: 'call_globex', tenantId: 'globex', carrierCallSid: 'CAglobex', direction: 'inbound', fromNumber: 'c', toNumber: 'd', startedAtMs: T0 + 10_000 });
});

after(async () => {
  await Promise.all(apps.map((a) => a.close()));
  await store.close();
  await rm(root, { recursive: true, force: true });
});

describe('GET /health', () => {
  test('answers ok with uptime and active calls, without auth', async () => {
    const metrics = createMetrics({ collectDefaults: false });
    metrics.activeCalls.set(2);
    const res = await makeApp({ metrics }).inject({ method: 'GET', url: '/health' });
    assert.equal(res.statusCode, 200);
    const body = res.json();
    assert.equal(body.status, 'ok');
    assert.equal(typeof body.uptimeS, 'number');
    assert.equal(body.activeCalls, 2);
  });
});

describe('GET /metrics', () => {
  test('serves Prometheus text including parley_active_calls, without auth by default', async () => {
    const res = await makeApp().inject({ method: 'GET', url: '/metrics' });
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /^text\/plain; version=0\.0\.4/);
    assert.match(res.body, /^parley_active_calls 0$/m);
  });

  test('with metricsAuth, requires the admin key', async () => {
    const app = makeApp({ metricsAuth: true });
    assert.equal((await app.inject({ method: 'GET', url: '/metrics' })).statusCode, 401);
    assert.equal((await app.inject({ method: 'GET', url: '/metrics', headers: admin })).statusCode, 200);
  });
});

describe('/v1 auth', () => {
  test('missing key → 401 unauthorized', async () => {
    const res = await makeApp().inject({ method: 'GET', url: '/v1/calls' });
    assert.equal(res.statusCode, 401);
    assert.equal(res.json().error.code, 'unauthorized');
    assert.equal(res.headers['www-authenticate'], 'Bearer');
  });

  test('wrong key or wrong scheme → 401 unauthorized', async () => {
    const app = makeApp();
    for (const authorization of [`Bearer ${ADMIN_KEY}x`, `Basic ${ADMIN_KEY}`, ADMIN_KEY, 'Bearer ']) {
      const res = await app.inject({ method: 'GET', url: '/v1/calls', headers: { authorization } });
      assert.equal(res.statusCode, 401, authorization);
      assert.equal(res.json().error.code, 'unauthorized');
    }
  });

  test('right key → 200', async () => {
    const res = await makeApp().inject({ method: 'GET', url: '/v1/calls', headers: admin });
    assert.equal(res.statusCode, 200);
  });

  test('no admin key configured → 401 saying PARLEY_ADMIN_KEY is not set, even with a bearer', async () => {
    const res = await makeApp({ adminKey: undefined }).inject({ method: 'GET', url: '/v1/calls', headers: { authorization: 'Bearer anything' } });
    assert.equal(res.statusCode, 401);
    assert.equal(res.json().error.code, 'auth_not_configured');
    assert.match(res.json().error.message, /PARLEY_ADMIN_KEY is not set/);
  });

  test('an empty admin key does not open the API', async () => {
    const res = await makeApp({ adminKey: '' }).inject({ method: 'GET', url: '/v1/calls', headers: { authorization: 'Bearer ' } });
    assert.equal(res.statusCode, 401);
    assert.equal(res.json().error.code, 'auth_not_configured');
  });
});

describe('GET /v1/calls/:id', () => {
  const expectedDetail = {
    id: 'call_detail',
    tenantId: 'acme',
    agentId: 'support',
    direction: 'inbound',
    from: '+15550001111',
    to: '+15550002222',
    status: 'completed',
    endReason: 'caller_hangup',
    startedAt: '2025-01-02T03:04:05.000Z',
    answeredAt: '2025-01-02T03:04:05.500Z',
    endedAt: '2025-01-02T03:05:05.000Z',
    durationMs: 60_000,
    carrier: { name: 'twilio', callSid: 'CA0000000000000000000000000000abcd', streamSid: 'MZ1' },
    metadata: { custom: { plan: 'gold' } },
    turns: [
      {
        seq: 0,
        role: 'agent',
        text: 'Hi, Acme here.',
        startedAt: '2025-01-02T03:04:05.600Z',
        endedAt: '2025-01-02T03:04:06.800Z',
        interrupted: true,
        latency: { voiceToVoiceMs: null, endpointingMs: null, sttFinalMs: null, llmFirstTokenMs: null, ttsFirstAudioMs: null, parleyOverheadMs: null },
      },
      {
        seq: 1,
        role: 'user',
        text: 'What are your hours?',
        startedAt: '2025-01-02T03:04:07.000Z',
        endedAt: '2025-01-02T03:04:08.000Z',
        interrupted: false,
        latency: { voiceToVoiceMs: 750, endpointingMs: 210, sttFinalMs: 80, llmFirstTokenMs: 300, ttsFirstAudioMs: 120, parleyOverheadMs: 12 },
      },
    ],
    events: [
      { at: '2025-01-02T03:04:05.001Z', type: 'stream.started', data: { streamSid: 'MZ1' } },
      { at: '2025-01-02T03:04:06.700Z', type: 'barge_in', data: {} },
    ],
  };

  test('by Parley id: call with ordered turns, latency and events', async () => {
    const res = await makeApp().inject({ method: 'GET', url: '/v1/calls/call_detail', headers: admin });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json(), expectedDetail);
  });

  test('by carrier CallSid: the same call', async () => {
    const res = await makeApp().inject({ method: 'GET', url: '/v1/calls/CA0000000000000000000000000000abcd', headers: admin });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json(), expectedDetail);
  });

  test('unknown id → 404 not_found JSON error', async () => {
    const res = await makeApp().inject({ method: 'GET', url: '/v1/calls/call_nope', headers: admin });
    assert.equal(res.statusCode, 404);
    assert.match(String(res.headers['content-type']), /application\/json/);
    assert.deepEqual(res.json(), { error: { code: 'not_found', message: 'Call call_nope not found' } });
  });
});

describe('GET /v1/calls', () => {
  test('pages newest first through nextCursor, covering every call once', async () => {
    const app = makeApp();
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const url: string = `/v1/calls?limit=2${cursor === null ? '' : `&before=${encodeURIComponent(cursor)}`}`;
      const res = await app.inject({ method: 'GET', url, headers: admin });
      assert.equal(res.statusCode, 200);
      const body = res.json() as { data: Array<Record<string, unknown>>; nextCursor: string | null };
      assert.ok(body.data.length <= 2);
      for (const c of body.data) {
        assert.equal(c['turns'], undefined, 'list items carry no turns');
        assert.equal(c['events'], undefined, 'list items carry no events');
        seen.push(String(c['id']));
      }
      cursor = body.nextCursor;
      pages++;
    } while (cursor !== null);
    assert.equal(pages, 3);
    assert.deepEqual(seen, ['call_globex', 'call_acme_4', 'call_acme_3', 'call_acme_2', 'call_acme_1', 'call_detail']);
  });

  test('filters by status', async () => {
    const res = await makeApp().inject({ method: 'GET', url: '/v1/calls?status=completed', headers: admin });
    assert.deepEqual(res.json().data.map((c: { id: string }) => c.id), ['call_detail']);
  });

  test('invalid limit, status or cursor → 400 validation_failed with details', async () => {
    const app = makeApp();
    for (const [qs, path] of [
      ['limit=0', 'limit'],
      ['limit=201', 'limit'],
      ['limit=abc', 'limit'],
      ['status=bogus', 'status'],
      ['before=not-a-cursor', 'before'],
    ] as const) {
      const res = await app.inject({ method: 'GET', url: `/v1/calls?${qs}`, headers: admin });
      assert.equal(res.statusCode, 400, qs);
      const err = res.json().error;
      assert.equal(err.code, 'validation_failed');
      assert.deepEqual(err.details.map((d: { path: string }) => d.path), [path], qs);
    }
  });

  test('limit defaults to 50', async () => {
    const res = await makeApp().inject({ method: 'GET', url: '/v1/calls', headers: admin });
    assert.equal(res.json().data.length, 6);
    assert.equal(res.json().nextCursor, null);
  });
});

describe('tenant scoping', () => {
  function tenantApp() {
    return makeApp({
      resolvePrincipal: createPrincipalResolver({ adminKey: ADMIN_KEY, tenantKeys: [{ tenantId: 'acme', keySha256Hex: hashApiKey(ACME_KEY) }] }),
    });
  }
  const acme = { authorization: `Bearer ${ACME_KEY}` };

  test('a tenant key lists only its own calls', async () => {
    const res = await tenantApp().inject({ method: 'GET', url: '/v1/calls', headers: acme });
    assert.equal(res.statusCode, 200);
    const ids = res.json().data.map((c: { id: string }) => c.id);
    assert.deepEqual(ids, ['call_acme_4', 'call_acme_3', 'call_acme_2', 'call_acme_1', 'call_detail']);
  });

  test('another tenant\'s call is a 404 by id and by carrier sid, with none of its data', async () => {
    const app = tenantApp();
    for (const id of ['call_globex', 'CAglobex']) {
      const res = await app.inject({ method: 'GET', url: `/v1/calls/${id}`, headers: acme });
      assert.equal(res.statusCode, 404);
      assert.deepEqual(res.json(), { error: { code: 'not_found', message: `Call ${id} not found` } });
    }
    const own = await app.inject({ method: 'GET', url: '/v1/calls/call_detail', headers: acme });
    assert.equal(own.statusCode, 200);
  });

  test('the admin key still sees every tenant through the same resolver', async () => {
    const res = await tenantApp().inject({ method: 'GET', url: '/v1/calls/call_globex', headers: admin });
    assert.equal(res.statusCode, 200);
    assert.equal(res.json().tenantId, 'globex');
  });

  test('a tenant key may not read /metrics when metrics require auth', async () => {
    const app = makeApp({
      metricsAuth: true,
      resolvePrincipal: createPrincipalResolver({ tenantKeys: [{ tenantId: 'acme', keySha256Hex: hashApiKey(ACME_KEY) }] }),
    });
    const res = await app.inject({ method: 'GET', url: '/metrics', headers: acme });
    assert.equal(res.statusCode, 403);
    assert.equal(res.json().error.code, 'forbidden');
  });
});

describe('request logging', () => {
  test('request logs carry the url with token query values redacted and no authorization header', async () => {
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _enc, cb) {
        lines.push(chunk.toString('utf8'));
        cb();
      },
    });
    const app = makeApp({ logger: createLogger({ destination }) });
    await app.inject({ method: 'GET', url: '/v1/calls?token=leaky-secret', headers: admin });
    const text = lines.join('');
    assert.match(text, /token=\[REDACTED\]/);
    assert.ok(!text.includes('leaky-secret'));
    assert.ok(!text.includes(ADMIN_KEY));
  });
});

describe('composability', () => {
  test('routes added after buildApi share the JSON error handling', async () => {
    const app = makeApp();
    app.get('/twilio/voice', async () => {
      throw new Error('boom');
    });
    const res = await app.inject({ method: 'GET', url: '/twilio/voice' });
    assert.equal(res.statusCode, 500);
    assert.equal(res.json().error.code, 'internal');
  });
});
