/**
 * The OpenAPI document and the SDK generated from it, against a real server: every /v1 route is
 * in the document, every operation has an SDK method, the checked-in generated.ts is what the
 * generator makes of today's document (so a route added without regenerating fails here), and
 * the main flows work through the SDK.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { generateSdkSource, tsType } from '../../scripts/sdk-codegen.js';
import { ParleyApiError, ParleyClient, operations } from '../../sdk/src/index.js';
import { definedRoutes } from '../../src/api/route.js';
import { openApiPath } from '../../src/api/openapi.js';
import type { ParleyServer } from '../../src/server/server.js';
import { ADMIN_KEY, hotelTenant, testServer } from '../support/server.js';

let server: ParleyServer;
let doc: { paths: Record<string, Record<string, { operationId: string }>>; components: { schemas: Record<string, Record<string, unknown>> } };

before(async () => {
  server = await testServer([await hotelTenant()]);
  const res = await fetch(`${server.url}/docs/json`);
  assert.equal(res.status, 200, 'the document needs no key');
  doc = (await res.json()) as typeof doc;
});
after(async () => {
  await server?.close();
});

const V1_METHODS = ['get', 'post', 'put', 'patch', 'delete'];
const v1Operations = () =>
  Object.entries(doc.paths)
    .filter(([p]) => p.startsWith('/v1/'))
    .flatMap(([path, item]) => V1_METHODS.filter((m) => item[m]).map((m) => ({ path, method: m.toUpperCase(), operationId: item[m]?.operationId ?? '' })));

describe('the OpenAPI document', () => {
  test('documents every route defined on the server, and the endpoints outside /v1', () => {
    const documented = new Set(v1Operations().map((o) => `${o.method} ${o.path} ${o.operationId}`));
    for (const r of definedRoutes(server.app)) {
      assert.ok(documented.has(`${r.method} ${openApiPath(r.path)} ${r.operationId}`), `${r.method} ${r.path} is missing from /docs/json`);
    }
    for (const p of ['/health', '/metrics', '/twilio/voice', '/twilio/status', '/twilio/stream']) assert.ok(doc.paths[p], p);
  });

  test('GET /docs is a self-contained page that loads nothing from elsewhere', async () => {
    const res = await fetch(`${server.url}/docs`);
    assert.equal(res.status, 200);
    assert.match(String(res.headers.get('content-type')), /^text\/html/);
    const html = await res.text();
    assert.match(html, /docs\/json|\/json/);
    assert.doesNotMatch(html, /<(script|link|img)[^>]+(src|href)=["']?(https?:)?\/\//i);
  });
});

describe('the SDK', () => {
  test('has a method for every /v1 operation, and no method for an operation that no longer exists', () => {
    const ops = v1Operations();
    assert.ok(ops.length >= 20, `expected the platform operations, found ${ops.length}`);
    for (const o of ops) {
      assert.equal(typeof (ParleyClient.prototype as unknown as Record<string, unknown>)[o.operationId], 'function', `no SDK method ${o.operationId} (${o.method} ${o.path}): run npx tsx scripts/generate-sdk.ts`);
    }
    assert.deepEqual(operations.map((o) => o.operationId).sort(), ops.map((o) => o.operationId).sort(), 'the SDK is stale: run npx tsx scripts/generate-sdk.ts');
  });

  test('sdk/src/generated.ts is what the generator makes of the current document', async () => {
    const onDisk = await readFile(new URL('../../sdk/src/generated.ts', import.meta.url), 'utf8');
    assert.ok(onDisk === generateSdkSource(doc), 'sdk/src/generated.ts is stale: run npx tsx scripts/generate-sdk.ts');
  });

  test('main flows: tenant, key, agents, numbers, documents, calls', async () => {
    const adminClient = new ParleyClient({ baseUrl: server.url, apiKey: ADMIN_KEY });
    const tenant = await adminClient.createTenant({
      id: 'sdk-co',
      name: 'SDK Co',
      agent: { greeting: 'Hello from SDK Co.', flow: { start: 'main', states: { main: { say: 'Hi', intents: [] } } } },
    });
    assert.equal(tenant.source, 'api');
    const key = await adminClient.createTenantApiKey('sdk-co', { name: 'sdk test' });
    assert.match(key.key, /^pk_/);
    const keyList = await adminClient.listTenantApiKeys('sdk-co');
    assert.deepEqual(keyList.data.map((k) => k.prefix), [key.prefix]);

    const client = new ParleyClient({ baseUrl: `${server.url}/`, apiKey: key.key });
    const agents = await client.listAgents();
    assert.deepEqual(agents.data.map((a) => a.id), ['default']);

    const number = '+15550600001';
    assert.deepEqual(await client.addPhoneNumber({ number }), { number, agentId: 'default' });
    await client.putAgent('sales', { greeting: 'Sales.', flow: { start: 'main', states: { main: { say: 'Sales', intents: [] } } } });
    assert.deepEqual(await client.setPhoneNumberAgent(number, { agentId: 'sales' }), { number, agentId: 'sales' });
    assert.equal(server.tenants.route(number)?.agentId, 'sales');

    const document = await client.createDocument({ title: 'Parking', content: 'Parking is free for guests in the garage on Elm Street.' });
    const hits = await client.searchDocuments({ q: 'where can I park' });
    assert.equal(hits.data[0]?.id, document.id);

    await server.store.calls.create({ id: 'call_sdk_1', tenantId: 'sdk-co', direction: 'inbound', fromNumber: '+15559990003', toNumber: number, startedAtMs: Date.now() });
    const calls = await client.listCalls();
    assert.deepEqual(calls.data.map((c) => c.id), ['call_sdk_1']);
    assert.equal((await client.getCall('call_sdk_1')).id, 'call_sdk_1');

    // The admin acts for a tenant with the client's tenantId.
    const asAdmin = new ParleyClient({ baseUrl: server.url, apiKey: ADMIN_KEY, tenantId: 'sdk-co' });
    assert.deepEqual((await asAdmin.listAgents()).data.map((a) => a.id), ['default', 'sales']);

    await client.removePhoneNumber(number);
    assert.equal(server.tenants.route(number), undefined);
    await adminClient.deleteTenant('sdk-co');
  });

  test('errors reject with ParleyApiError carrying status, code and details', async () => {
    const client = new ParleyClient({ baseUrl: server.url, apiKey: ADMIN_KEY });
    await assert.rejects(client.getTenant('no-such-tenant'), (e: unknown) => e instanceof ParleyApiError && e.status === 404 && e.code === 'not_found');
    await assert.rejects(
      client.createTenant({ id: 'Bad Id', name: 'x', agent: { greeting: 'hi' } }),
      (e: unknown) => e instanceof ParleyApiError && e.code === 'validation_failed' && Array.isArray(e.details) && e.details.some((d: { path: string }) => d.path === 'id'),
    );
    const anonymous = new ParleyClient({ baseUrl: server.url, apiKey: 'pk_not-a-key' });
    await assert.rejects(anonymous.listCalls(), (e: unknown) => e instanceof ParleyApiError && e.status === 401 && e.code === 'unauthorized');
  });

  test('Retry-After is surfaced on the error', async () => {
    const busy: Server = createServer((_req, res) => {
      res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '7' });
      res.end(JSON.stringify({ error: { code: 'quota_exceeded', message: 'Daily calls used up', details: { quota: 'dailyCalls' } } }));
    });
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
    try {
      const client = new ParleyClient({ baseUrl: `http://127.0.0.1:${(busy.address() as AddressInfo).port}`, apiKey: 'pk_x' });
      await assert.rejects(client.listCalls(), (e: unknown) => e instanceof ParleyApiError && e.status === 429 && e.code === 'quota_exceeded' && e.retryAfterS === 7);
    } finally {
      await new Promise((r) => busy.close(r));
    }
  });
});

describe('JSON Schema to TypeScript', () => {
  test('covers the subset zod emits', () => {
    assert.equal(tsType({ type: ['string', 'null'] }), 'string | null');
    assert.equal(tsType({ type: 'string', enum: ['a', 'b'] }), '"a" | "b"');
    assert.equal(tsType({ const: 'ok' }), '"ok"');
    assert.equal(tsType({ type: 'integer' }), 'number');
    assert.equal(tsType({ type: 'array', items: { anyOf: [{ type: 'string' }, { type: 'number' }] } }), '(string | number)[]');
    assert.equal(tsType({ type: 'object', propertyNames: { type: 'string' }, additionalProperties: { type: 'boolean' } }), 'Record<string, boolean>');
    assert.equal(tsType({ $ref: '#/components/schemas/Agent' }), 'Agent');
    assert.equal(tsType({}), 'unknown');
    assert.equal(tsType({ anyOf: [{ type: 'string' }, {}] }), 'unknown');
    assert.equal(
      tsType({ type: 'object', properties: { a: { type: 'string', description: 'The a' }, 'b-c': { type: 'number' } }, required: ['a'], additionalProperties: {} }),
      '{\n  /** The a */\n  a: string;\n  "b-c"?: number;\n  [key: string]: unknown;\n}',
    );
    assert.equal(tsType({ type: 'array', prefixItems: [{ type: 'string' }, { type: 'number' }] }), '[string, number]');
  });
});
