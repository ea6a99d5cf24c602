/**
 * The platform API end to end on a real server: an integrator's first steps (admin creates a
 * tenant and a key; the key sees only its tenant's calls), tenant isolation over every /v1 route
 * (each route taking an id is called with one tenant's key and another tenant's ids), file
 * tenants read-only, revocation, keys hashed at rest, and routing changes reaching calls at once.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import { definedRoutes, type RouteSpec } from '../../src/api/route.js';
import { recordingFilePath } from '../../src/recording/stereo-recorder.js';
import type { ParleyServer } from '../../src/server/server.js';
import { DATABASE_FILE_NAME } from '../../src/store/database.js';
import { UNKNOWN_NUMBER_MESSAGE } from '../../src/transports/twilio/webhook-routes.js';
import { ADMIN_KEY, HOTEL_NUMBER, hotelDocument, hotelTenant, testServer } from '../support/server.js';

const ACME_NUMBER = '+15550200001';
const ACME_SALES_NUMBER = '+15550200002';
const GLOBEX_NUMBER = '+15550300001';
/** Appears in every piece of globex data: no response to another tenant may contain it. */
const GLOBEX_MARKER = 'GLOBEX-PRIVATE-7f3a';
const GLOBEX_WEBHOOK_SECRET = 'globex-webhook-secret-0123456789';

const flowAgent = (greeting: string) => ({ greeting, llm: { provider: 'flow' }, flow: { start: 'main', states: { main: { say: greeting, intents: [] } } } });

const acmeDocument = () => ({
  id: 'acme',
  name: 'Acme',
  phoneNumbers: [ACME_NUMBER, { number: ACME_SALES_NUMBER, agent: 'sales' }],
  agents: { support: flowAgent('Acme support.'), sales: flowAgent('Acme sales.') },
  defaultAgent: 'support',
});

const globexDocument = () => ({
  id: 'globex',
  name: `Globex ${GLOBEX_MARKER}`,
  phoneNumbers: [GLOBEX_NUMBER],
  agent: flowAgent(`Globex here. ${GLOBEX_MARKER}`),
  agents: { 'globex-only': flowAgent(`Secret agent ${GLOBEX_MARKER}`) },
  webhooks: [{ url: 'https://hooks.globex.example/parley', secret: GLOBEX_WEBHOOK_SECRET }],
});

let server: ParleyServer;
let dataDir: string;
const admin = `Bearer ${ADMIN_KEY}`;

interface Res {
  status: number;
  body: any;
  text: string;
}

async function call(method: string, path: string, o: { auth?: string; body?: unknown; contentType?: string } = {}): Promise<Res> {
  const headers: Record<string, string> = {};
  if (o.auth !== undefined) headers.authorization = o.auth;
  let body: string | undefined;
  if (o.body !== undefined) {
    headers['content-type'] = o.contentType ?? 'application/json';
    body = typeof o.body === 'string' ? o.body : JSON.stringify(o.body);
  }
  const res = await fetch(`${server.url}${path}`, { method, headers, body });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  return { status: res.status, body: parsed, text };
}

/** The RouteSpec serving `method path` (path as sent, e.g. /v1/tenants/acme). */
function routeFor(method: string, path: string): RouteSpec {
  const bare = path.split('?')[0]?.replace(/^\/v1/, '') ?? '';
  const matches = definedRoutes(server.app).filter((r) => r.method === method && new RegExp(`^${r.path.replace(/:[A-Za-z0-9_]+/g, '[^/]+')}$`).test(bare));
  // Static segments win over parameters, as in the router.
  matches.sort((a, b) => a.path.split(':').length - b.path.split(':').length);
  const r = matches[0];
  assert.ok(r, `no route for ${method} ${path}`);
  return r;
}

/** Calls a route, expects `status`, and checks a JSON success body against the route's documented response schema. */
async function expectOk(method: string, path: string, status: number, o: Parameters<typeof call>[2] = {}): Promise<any> {
  const res = await call(method, path, o);
  assert.equal(res.status, status, `${method} ${path} → ${res.status} ${res.text.slice(0, 300)}`);
  const schema = routeFor(method, path).responses[status]?.schema;
  if (schema !== undefined) {
    const check = schema.safeParse(res.body);
    assert.ok(check.success, `${method} ${path}: response does not match its documented schema: ${check.success ? '' : JSON.stringify(check.error.issues.slice(0, 3))}`);
  }
  return res.body;
}

async function voiceWebhook(to: string): Promise<string> {
  const form = new URLSearchParams({ CallSid: `CA${'1'.repeat(32)}`, From: '+15559990000', To: to });
  const res = await fetch(`${server.url}/twilio/voice`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form.toString() });
  return res.text();
}

const keys: Record<string, { id: string; key: string }> = {};
const bearerOf = (tenant: string): string => `Bearer ${keys[tenant]?.key}`;

before(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'parley-platform-api-'));
  server = await testServer([await hotelTenant()], { dataDir });
});

after(async () => {
  await server?.close();
  await rm(dataDir, { recursive: true, force: true });
});

describe('first integration', () => {
  test('admin creates a tenant and a key; the key sees only its own calls', async () => {
    const created = await expectOk('POST', '/v1/tenants', 201, { auth: admin, body: acmeDocument() });
    assert.equal(created.id, 'acme');
    assert.equal(created.source, 'api');
    assert.deepEqual(created.phoneNumbers, [
      { number: ACME_NUMBER, agentId: 'support' },
      { number: ACME_SALES_NUMBER, agentId: 'sales' },
    ]);
    await expectOk('POST', '/v1/tenants', 201, { auth: admin, body: globexDocument() });

    for (const tenant of ['acme', 'globex']) {
      const k = await expectOk('POST', `/v1/tenants/${tenant}/api-keys`, 201, { auth: admin, body: { name: 'crm' } });
      assert.match(k.key, /^pk_[A-Za-z0-9_-]{43}$/);
      assert.equal(k.prefix, k.key.slice(0, 10));
      keys[tenant] = { id: k.id, key: k.key };
    }
    const listed = await expectOk('GET', '/v1/tenants/acme/api-keys', 200, { auth: admin });
    assert.equal(listed.data.length, 1);
    assert.ok(!JSON.stringify(listed).includes(keys.acme?.key ?? '?'), 'the key is shown only when created');
    assert.equal(listed.data[0].key, undefined);

    const t0 = Date.now();
    await server.store.calls.create({ id: 'call_acme_1', tenantId: 'acme', agentId: 'support', direction: 'inbound', fromNumber: '+15559990001', toNumber: ACME_NUMBER, startedAtMs: t0 });
    await server.store.calls.create({ id: 'call_globex_1', tenantId: 'globex', direction: 'inbound', fromNumber: '+15559990002', toNumber: GLOBEX_NUMBER, startedAtMs: t0 + 1, metadata: { note: GLOBEX_MARKER } });

    const calls = await expectOk('GET', '/v1/calls', 200, { auth: bearerOf('acme') });
    assert.deepEqual(calls.data.map((c: { id: string }) => c.id), ['call_acme_1']);
    await expectOk('GET', '/v1/calls/call_acme_1', 200, { auth: bearerOf('acme') });
    const other = await call('GET', '/v1/calls/call_globex_1', { auth: bearerOf('acme') });
    assert.equal(other.status, 404);
    assert.equal(other.body.error.code, 'not_found');
    assert.ok(!other.text.includes(GLOBEX_MARKER));
  });

  test('responses redact secrets, to the admin too', async () => {
    const t = await expectOk('GET', '/v1/tenants/globex', 200, { auth: admin });
    assert.ok(!JSON.stringify(t).includes(GLOBEX_WEBHOOK_SECRET));
    assert.match(t.webhooks[0].secret, /^••••/);
  });

  test('a tenant key sees only its own tenant', async () => {
    const list = await expectOk('GET', '/v1/tenants', 200, { auth: bearerOf('acme') });
    assert.deepEqual(list.data.map((t: { id: string }) => t.id), ['acme']);
    await expectOk('GET', '/v1/tenants/acme', 200, { auth: bearerOf('acme') });
    assert.equal((await call('GET', '/v1/tenants/globex', { auth: bearerOf('acme') })).status, 404);
    assert.equal((await call('POST', '/v1/tenants', { auth: bearerOf('acme'), body: acmeDocument() })).status, 403);
  });

  test('the admin sees file and API tenants, each with its source', async () => {
    const list = await expectOk('GET', '/v1/tenants', 200, { auth: admin });
    const sources = Object.fromEntries(list.data.map((t: { id: string; source: string }) => [t.id, t.source]));
    assert.equal(sources['seaview-hotel'], 'file');
    assert.equal(sources.acme, 'api');
  });
});

describe('tenant isolation over every /v1 route', () => {
  /** Globex's resources, by the first path segment and parameter name of the routes that take them. */
  const globexIds: Record<string, string> = {};
  const BODIES: Record<string, unknown> = {
    'PUT /agents/:agentId': flowAgent('Acme writes its own agent.'),
    'PUT /phone-numbers/:number': { agentId: 'support' },
    'PUT /documents/:id': { title: 'Acme title' },
  };
  /** create-or-replace routes: another tenant's id only ever names a resource of the caller's own tenant. */
  const OWN_SCOPE = new Set(['PUT /agents/:agentId']);

  before(async () => {
    const doc = await expectOk('POST', '/v1/documents', 201, { auth: bearerOf('globex'), body: { title: `Rates ${GLOBEX_MARKER}`, content: `Secret rates ${GLOBEX_MARKER}` } });
    const callback = await server.store.callbacks.create({ tenantId: 'globex', agentId: 'default', toNumber: '+15559990002', dueAtMs: Date.now() + 3_600_000, reason: GLOBEX_MARKER, nowMs: Date.now() });
    const delivery = await server.store.deliveries.enqueue({ tenantId: 'globex', eventId: 'evt_1', eventType: 'call.ended', callId: 'call_globex_1', url: 'https://hooks.globex.example/parley', payload: { note: GLOBEX_MARKER }, nowMs: Date.now() });
    // An ended call with a recording file, so the recording routes have something to leak.
    await server.store.calls.create({ id: 'call_globex_rec', tenantId: 'globex', direction: 'inbound', fromNumber: '+15559990002', toNumber: GLOBEX_NUMBER, startedAtMs: Date.now() - 60_000 });
    const wav = recordingFilePath(dataDir, 'globex', 'call_globex_rec');
    await mkdir(dirname(wav), { recursive: true });
    await writeFile(wav, `RIFF fake audio ${GLOBEX_MARKER}`);
    await server.store.calls.end('call_globex_rec', { status: 'completed', endReason: 'caller_hangup', endedAtMs: Date.now() });
    await server.store.calls.update('call_globex_rec', { recording: { path: 'recordings/globex/call_globex_rec.wav', bytes: 40, durationMs: 1000, sampleRateHz: 8000 } });
    Object.assign(globexIds, {
      '/calls/:id/recording:id': 'call_globex_rec',
      'calls:id': 'call_globex_1',
      'callbacks:id': callback.id,
      'webhook-deliveries:id': delivery.id,
      'documents:id': doc.id,
      'tenants:id': 'globex',
      'tenants:keyId': keys.globex?.id,
      'api-keys:keyId': keys.globex?.id,
      'agents:agentId': 'globex-only',
      'phone-numbers:number': encodeURIComponent(GLOBEX_NUMBER),
      'recordings:id': 'call_globex_1',
    });
  });

  function pathWithGlobexIds(r: RouteSpec): string {
    const segment = r.path.split('/')[1] ?? '';
    return r.path.replace(/:([A-Za-z0-9_]+)/g, (_m, param: string) => {
      const id = globexIds[`${r.path}:${param}`] ?? globexIds[`${segment}:${param}`];
      assert.ok(id, `no globex fixture for :${param} of ${r.method} ${r.path}; add one so this route's isolation is tested`);
      return id;
    });
  }

  test("every route taking an id answers another tenant's id with 404 (403 for admin-only routes), never its data", async () => {
    const routes = definedRoutes(server.app).filter((r) => r.path.includes(':'));
    assert.ok(routes.length >= 15, `expected the platform routes, found ${routes.length}`);
    const tried: string[] = [];
    for (const r of routes) {
      const name = `${r.method} ${r.path}`;
      const path = `/v1${pathWithGlobexIds(r)}`;
      const body = BODIES[name];
      for (const [who, auth, url] of [
        ['acme key', bearerOf('acme'), path],
        ['admin acting for acme', admin, `${path}?tenantId=acme`],
      ] as const) {
        if (who === 'admin acting for acme' && r.access !== 'tenant') continue;
        const res = await call(r.method, url, { auth, body });
        assert.ok(!res.text.includes(GLOBEX_MARKER), `${name} (${who}) returned globex data: ${res.text.slice(0, 300)}`);
        assert.ok(!res.text.includes(GLOBEX_WEBHOOK_SECRET), `${name} (${who}) returned a globex secret`);
        if (OWN_SCOPE.has(name)) {
          assert.equal(res.status, 200, `${name} (${who}): ${res.text.slice(0, 200)}`);
          // It wrote acme's own agent of that name; remove it so later routes see only globex's.
          await expectOk('DELETE', '/v1/agents/globex-only', 204, { auth: bearerOf('acme') });
          continue;
        }
        assert.notEqual(res.status, 400, `${name} (${who}) rejected the request before looking the resource up (${res.text.slice(0, 200)}); give it a valid body in BODIES`);
        const expected = r.access === 'admin' ? 403 : 404;
        assert.equal(res.status, expected, `${name} (${who}) → ${res.status} ${res.text.slice(0, 200)}`);
        tried.push(`${name} (${who})`);
      }
    }
    assert.ok(tried.length >= routes.length);

    // Nothing of globex changed.
    await expectOk('GET', `/v1/documents/${globexIds['documents:id']}`, 200, { auth: bearerOf('globex') });
    const agent = await expectOk('GET', '/v1/agents/globex-only', 200, { auth: bearerOf('globex') });
    assert.match(agent.config.greeting, /Secret agent/);
    assert.equal(server.tenants.route(GLOBEX_NUMBER)?.tenant.id, 'globex');
    assert.equal((await call('GET', '/v1/calls', { auth: bearerOf('globex') })).status, 200, 'the globex key still works');
    assert.equal((await server.store.calls.get('call_globex_1'))?.status, 'in_progress');
    const recording = await fetch(`${server.url}/v1/calls/call_globex_rec/recording`, { headers: { authorization: bearerOf('globex') } });
    assert.equal(recording.status, 200, 'the recording is still there for its own tenant');
    assert.match(await recording.text(), new RegExp(GLOBEX_MARKER));
    assert.equal(server.tenants.get('acme')?.agents['globex-only'], undefined);
  });

  test('list routes show a tenant key nothing of another tenant', async () => {
    const lists = definedRoutes(server.app).filter((r) => r.method === 'GET' && !r.path.includes(':'));
    assert.ok(lists.length >= 6);
    const QUERIES: Record<string, string> = { '/documents/search': '?q=secret+rates' };
    for (const r of lists) {
      const res = await call('GET', `/v1${r.path}${QUERIES[r.path] ?? ''}`, { auth: bearerOf('acme') });
      assert.equal(res.status, 200, `GET ${r.path} → ${res.status} ${res.text.slice(0, 200)} (a required query parameter? add it to QUERIES)`);
      assert.ok(!res.text.includes(GLOBEX_MARKER), `GET ${r.path} returned globex data`);
    }
  });
});

describe('agents and phone numbers', () => {
  test('a number added through the API answers the next call at once, with the chosen agent', async () => {
    const number = '+15550200009';
    assert.match(await voiceWebhook(number), new RegExp(UNKNOWN_NUMBER_MESSAGE.slice(0, 20)));
    const route = await expectOk('POST', '/v1/phone-numbers', 201, { auth: bearerOf('acme'), body: { number, agentId: 'sales' } });
    assert.deepEqual(route, { number, agentId: 'sales' });
    assert.match(await voiceWebhook(number), /<Stream/);
    assert.equal(server.tenants.route(number)?.agentId, 'sales');
    await expectOk('PUT', `/v1/phone-numbers/${encodeURIComponent(number)}`, 200, { auth: bearerOf('acme'), body: { agentId: 'support' } });
    assert.equal(server.tenants.route(number)?.agentId, 'support');
    await expectOk('DELETE', `/v1/phone-numbers/${encodeURIComponent(number)}`, 204, { auth: bearerOf('acme') });
    assert.match(await voiceWebhook(number), new RegExp(UNKNOWN_NUMBER_MESSAGE.slice(0, 20)));
  });

  test("a number another tenant routes is a conflict that does not name it", async () => {
    for (const number of [GLOBEX_NUMBER, HOTEL_NUMBER]) {
      const res = await call('POST', '/v1/phone-numbers', { auth: bearerOf('acme'), body: { number } });
      assert.equal(res.status, 409, res.text);
      assert.equal(res.body.error.code, 'conflict');
      assert.ok(!res.text.includes('globex') && !res.text.includes('seaview'));
    }
  });

  test('agents: create, read with credentials redacted, refuse deleting a routed agent', async () => {
    const agent = { ...flowAgent('Billing.'), tts: { provider: 'espeak', voice: 'en-us' } };
    const put = await expectOk('PUT', '/v1/agents/billing', 200, { auth: bearerOf('acme'), body: agent });
    assert.equal(put.id, 'billing');
    assert.equal(put.isDefault, false);
    const list = await expectOk('GET', '/v1/agents', 200, { auth: bearerOf('acme') });
    assert.deepEqual(list.data.map((a: { id: string }) => a.id), ['billing', 'sales', 'support']);
    const routed = await call('DELETE', '/v1/agents/sales', { auth: bearerOf('acme') });
    assert.equal(routed.status, 409);
    assert.match(routed.body.error.message, /\+15550200002/);
    await expectOk('DELETE', '/v1/agents/billing', 204, { auth: bearerOf('acme') });
  });

  test('an invalid agent is a 400 naming the field, a bad provider option included', async () => {
    const noFlow = await call('PUT', '/v1/agents/x', { auth: bearerOf('acme'), body: { greeting: 'hi' } });
    assert.equal(noFlow.status, 400);
    assert.deepEqual(noFlow.body.error.details.map((d: { path: string }) => d.path), ['flow']);
    const badOption = await call('PUT', '/v1/agents/x', { auth: bearerOf('acme'), body: { greeting: 'hi', llm: { provider: 'anthropic', model: 'claude' } } });
    assert.equal(badOption.status, 400);
    assert.deepEqual(badOption.body.error.details.map((d: { path: string }) => d.path), ['llm.apiKey']);
    const agent = { greeting: 'hi', llm: { provider: 'anthropic', model: 'claude', apiKey: 'sk-ant-test' }, stt: [{ provider: 'deepgram' }] };
    const tenant = await call('POST', '/v1/tenants', { auth: admin, body: { id: 'broken', name: 'Broken', agents: { a: agent } } });
    assert.equal(tenant.status, 400);
    assert.deepEqual(tenant.body.error.details.map((d: { path: string }) => d.path), ['agents.a.stt.0.apiKey']);
    assert.equal((await call('GET', '/v1/tenants/broken', { auth: admin })).status, 404);
  });
});

describe('file tenants', () => {
  test('are read-only through the API, yet get keys, documents and their agents', async () => {
    const hotel = await hotelTenant();
    for (const [method, path, body] of [
      ['PUT', '/v1/tenants/seaview-hotel', await hotelDocument()],
      ['DELETE', '/v1/tenants/seaview-hotel', undefined],
      ['PUT', '/v1/agents/default?tenantId=seaview-hotel', flowAgent('Changed.')],
      ['DELETE', '/v1/agents/default?tenantId=seaview-hotel', undefined],
      ['POST', '/v1/phone-numbers?tenantId=seaview-hotel', { number: '+15550100077' }],
      ['DELETE', `/v1/phone-numbers/${encodeURIComponent(HOTEL_NUMBER)}?tenantId=seaview-hotel`, undefined],
    ] as const) {
      const res = await call(method, path, { auth: admin, body });
      assert.equal(res.status, 409, `${method} ${path}: ${res.text.slice(0, 200)}`);
      assert.equal(res.body.error.code, 'read_only');
    }
    assert.equal(server.tenants.get('seaview-hotel')?.agents.default?.greeting, hotel.agents.default?.greeting);

    const k = await expectOk('POST', '/v1/tenants/seaview-hotel/api-keys', 201, { auth: admin, body: {} });
    const agents = await expectOk('GET', '/v1/agents', 200, { auth: `Bearer ${k.key}` });
    assert.deepEqual(agents.data.map((a: { id: string }) => a.id), ['default']);
    assert.equal(agents.data[0].isDefault, true);
    await expectOk('POST', '/v1/documents?title=Pool', 201, { auth: `Bearer ${k.key}`, body: '# Pool\nOpen 7am to 10pm.', contentType: 'text/markdown' });
    const hits = await expectOk('GET', '/v1/documents/search?q=when+is+the+pool+open', 200, { auth: `Bearer ${k.key}` });
    assert.equal(hits.data[0]?.title, 'Pool');
  });
});

describe('API keys', () => {
  test('a revoked key is 401 on its next request, by the admin or by itself', async () => {
    const a = await expectOk('POST', '/v1/tenants/acme/api-keys', 201, { auth: admin, body: { name: 'short-lived' } });
    assert.equal((await call('GET', '/v1/agents', { auth: `Bearer ${a.key}` })).status, 200);
    await expectOk('DELETE', `/v1/tenants/acme/api-keys/${a.id}`, 204, { auth: admin });
    const res = await call('GET', '/v1/agents', { auth: `Bearer ${a.key}` });
    assert.equal(res.status, 401);
    assert.equal(res.body.error.code, 'unauthorized');

    const b = await expectOk('POST', '/v1/api-keys', 201, { auth: bearerOf('acme'), body: { name: 'self-service' } });
    await expectOk('DELETE', `/v1/api-keys/${b.id}`, 204, { auth: `Bearer ${b.key}` });
    assert.equal((await call('GET', '/v1/agents', { auth: `Bearer ${b.key}` })).status, 401);
    const own = await expectOk('GET', '/v1/api-keys', 200, { auth: bearerOf('acme') });
    assert.ok(own.data.find((k: { id: string; revokedAt: string | null }) => k.id === b.id)?.revokedAt);
  });

  test("deleting a tenant stops its routing and its keys", async () => {
    await expectOk('POST', '/v1/tenants', 201, { auth: admin, body: { id: 'temp', name: 'Temp', phoneNumbers: ['+15550400001'], agent: flowAgent('Temp.') } });
    const k = await expectOk('POST', '/v1/tenants/temp/api-keys', 201, { auth: admin, body: {} });
    assert.equal((await call('GET', '/v1/agents', { auth: `Bearer ${k.key}` })).status, 200);
    await expectOk('DELETE', '/v1/tenants/temp', 204, { auth: admin });
    assert.equal((await call('GET', '/v1/agents', { auth: `Bearer ${k.key}` })).status, 401);
    assert.equal(server.tenants.route('+15550400001'), undefined);
    assert.equal((await call('GET', '/v1/tenants/temp', { auth: admin })).status, 404);
  });

  test('keys are stored as SHA-256 digests only', () => {
    const db = new BetterSqlite3(join(dataDir, DATABASE_FILE_NAME), { readonly: true });
    try {
      const rows = db.prepare('select * from api_keys').all() as Array<Record<string, unknown>>;
      assert.ok(rows.length >= 2);
      const dump = JSON.stringify(rows);
      for (const { key } of Object.values(keys)) {
        assert.ok(!dump.includes(key), 'a plaintext key is in the database');
        assert.ok(dump.includes(createHash('sha256').update(key).digest('hex')));
        assert.ok(dump.includes(key.slice(0, 10)), 'the display prefix is kept');
      }
    } finally {
      db.close();
    }
  });
});

describe('documents', () => {
  test('upload, list, update, search and delete; content over 1 MiB is refused', async () => {
    const auth = bearerOf('acme');
    const created = await expectOk('POST', '/v1/documents', 201, { auth, body: { title: 'Returns', content: 'Returns are accepted within 30 days with a receipt.', metadata: { lang: 'en' } } });
    const list = await expectOk('GET', '/v1/documents', 200, { auth });
    assert.ok(list.data.some((d: { id: string; content?: string }) => d.id === created.id && d.content === undefined));
    await expectOk('PUT', `/v1/documents/${created.id}`, 200, { auth, body: 'Returns are accepted within 60 days.', contentType: 'text/plain' });
    const hits = await expectOk('GET', '/v1/documents/search?q=how+many+days+for+returns', 200, { auth });
    assert.equal(hits.data[0]?.id, created.id);
    assert.match(hits.data[0]?.snippet, /60/);
    assert.equal((await call('GET', '/v1/documents/search?q=returns', { auth: bearerOf('globex') })).body.data.length, 0);
    const tooBig = await call('POST', '/v1/documents?title=Big', { auth, body: 'x'.repeat(1024 * 1024 + 1), contentType: 'text/plain' });
    assert.equal(tooBig.status, 413);
    const tooBigJson = await call('POST', '/v1/documents', { auth, body: { title: 'Big', content: 'y'.repeat(1024 * 1024 + 1) } });
    assert.equal(tooBigJson.status, 400);
    assert.deepEqual(tooBigJson.body.error.details.map((d: { path: string }) => d.path), ['content']);
    const noTitle = await call('POST', '/v1/documents', { auth, body: 'text without a title', contentType: 'text/plain' });
    assert.equal(noTitle.status, 400);
    await expectOk('DELETE', `/v1/documents/${created.id}`, 204, { auth });
    assert.equal((await call('GET', `/v1/documents/${created.id}`, { auth })).status, 404);
  });
});
