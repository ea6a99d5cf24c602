import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { ApiError } from '../api/errors.js';
import { createLogger } from '../observability/logger.js';
import { openStore, type Store } from '../store/store.js';
import { TenantDirectory } from './directory.js';
import { type TenantInput, tenantSchema } from './schema.js';
import { TenantService } from './tenant-service.js';

let root: string;
let seq = 0;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'parley-tenant-service-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

const flowAgent = (greeting: string) => ({ greeting, flow: { start: 'main', states: { main: { say: greeting, intents: [] } } } });

function doc(id: string, over: Partial<TenantInput> = {}): Record<string, unknown> {
  return { id, name: `Tenant ${id}`, phoneNumbers: [], agent: flowAgent(`Hello from ${id}`), ...over };
}

const FILE_NUMBER = '+15550109999';
const fileTenant = tenantSchema.parse(doc('filed', { phoneNumbers: [FILE_NUMBER] }));

interface Harness {
  store: Store;
  directory: TenantDirectory;
  service: TenantService;
  logs: Array<Record<string, unknown>>;
  close(): Promise<void>;
}

async function harness(o: { store?: Store } = {}): Promise<Harness> {
  const store = o.store ?? (await openStore({ dataDir: join(root, `db-${seq++}`) }));
  const logs: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) logs.push(JSON.parse(line));
      cb();
    },
  });
  const directory = new TenantDirectory([fileTenant]);
  const service = new TenantService({ store, directory, logger: createLogger({ destination }) });
  return { store, directory, service, logs, close: () => store.close() };
}

/** Runs `fn` and returns the ApiError it rejects with. */
async function apiError(fn: () => Promise<unknown>): Promise<ApiError> {
  try {
    await fn();
  } catch (err) {
    assert.ok(err instanceof ApiError, `expected an ApiError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a rejection');
}

const paths = (e: ApiError): string[] => (e.details as Array<{ path: string }>).map((d) => d.path);

describe('TenantService.create', () => {
  test('stores the document as given and routes its numbers at once', async () => {
    const h = await harness();
    const input = doc('acme', { phoneNumbers: ['+15550100001', { number: '+15550100002', agent: 'default' }] });
    const record = await h.service.create(input);
    assert.equal(record.source, 'api');
    assert.equal(typeof record.createdAtMs, 'number');
    assert.deepEqual((await h.store.tenants.get('acme'))?.document, input);
    assert.equal(h.directory.route('+15550100001')?.tenant.id, 'acme');
    assert.equal(h.directory.route('+1 (555) 010-0002')?.agentId, 'default');
    await h.close();
  });

  test('an invalid document is validation_failed naming each field', async () => {
    const h = await harness();
    const e = await apiError(() => h.service.create({ id: 'Bad Id', name: '', agent: { greeting: 'hi' } }));
    assert.equal(e.code, 'validation_failed');
    assert.deepEqual(paths(e).sort(), ['agent.flow', 'id', 'name']);
    assert.equal(h.directory.get('Bad Id'), undefined);
    await h.close();
  });

  test('a bad provider option is validation_failed with the field as written in the document', async () => {
    const h = await harness();
    const single = await apiError(() => h.service.create(doc('p1', { agent: { greeting: 'hi', llm: { provider: 'openai' } } })));
    assert.deepEqual(paths(single), ['agent.llm.model']);
    const listed = await apiError(() => h.service.create(doc('p2', { agent: undefined, agents: { sales: { greeting: 'hi', llm: [{ provider: 'openai', model: 'm' }, { provider: 'nope' }] } } })));
    assert.deepEqual(paths(listed), ['agents.sales.llm.1.provider']);
    assert.equal(await h.store.tenants.get('p1'), undefined);
    await h.close();
  });

  test('an id used by a file tenant or an API tenant is a conflict', async () => {
    const h = await harness();
    assert.equal((await apiError(() => h.service.create(doc('filed')))).code, 'conflict');
    await h.service.create(doc('acme'));
    assert.equal((await apiError(() => h.service.create(doc('acme')))).code, 'conflict');
    await h.close();
  });

  test('a number another tenant routes is a conflict that does not name the owner', async () => {
    const h = await harness();
    const e = await apiError(() => h.service.create(doc('acme', { phoneNumbers: ['+15550100001', FILE_NUMBER] })));
    assert.equal(e.code, 'conflict');
    assert.deepEqual(paths(e), ['phoneNumbers.1']);
    assert.ok(!e.message.includes('filed'));
    assert.equal(await h.store.tenants.get('acme'), undefined);
    assert.equal(h.directory.route('+15550100001'), undefined);
    await h.close();
  });

  test('concurrent creates claiming one number: exactly one wins', async () => {
    const h = await harness();
    const results = await Promise.allSettled([h.service.create(doc('one', { phoneNumbers: ['+15550100007'] })), h.service.create(doc('two', { phoneNumbers: ['+15550100007'] }))]);
    assert.deepEqual(results.map((r) => r.status).sort(), ['fulfilled', 'rejected']);
    assert.equal((await h.store.tenants.list()).length, 1);
    await h.close();
  });
});

describe('TenantService.replace and delete', () => {
  test('replace swaps the routing of the old document for the new one', async () => {
    const h = await harness();
    await h.service.create(doc('acme', { phoneNumbers: ['+15550100001'] }));
    const r = await h.service.replace('acme', doc('acme', { name: 'Acme 2', phoneNumbers: ['+15550100003'] }));
    assert.equal(r.tenant.name, 'Acme 2');
    assert.equal(h.directory.route('+15550100001'), undefined);
    assert.equal(h.directory.route('+15550100003')?.tenant.id, 'acme');
    assert.ok((r.updatedAtMs ?? 0) >= (r.createdAtMs ?? 0));
    await h.close();
  });

  test('replace: a different id in the body is validation_failed, unknown is not_found, a file tenant read_only', async () => {
    const h = await harness();
    await h.service.create(doc('acme'));
    const e = await apiError(() => h.service.replace('acme', doc('other')));
    assert.equal(e.code, 'validation_failed');
    assert.deepEqual(paths(e), ['id']);
    assert.equal((await apiError(() => h.service.replace('nobody', doc('nobody')))).code, 'not_found');
    assert.equal((await apiError(() => h.service.replace('filed', doc('filed')))).code, 'read_only');
    await h.close();
  });

  test('delete stops routing, removes the document and revokes the keys; file tenants are read_only', async () => {
    const h = await harness();
    await h.service.create(doc('acme', { phoneNumbers: ['+15550100001'] }));
    await h.store.apiKeys.create({ tenantId: 'acme', name: 'k', prefix: 'pk_x', keySha256Hex: 'ab'.repeat(32), nowMs: 1 });
    await h.service.delete('acme');
    assert.equal(h.directory.route('+15550100001'), undefined);
    assert.equal(await h.store.tenants.get('acme'), undefined);
    assert.equal(await h.store.apiKeys.findActiveByDigest('ab'.repeat(32)), undefined);
    assert.equal((await apiError(() => h.service.delete('filed'))).code, 'read_only');
    assert.equal((await apiError(() => h.service.delete('acme'))).code, 'not_found');
    await h.close();
  });
});

describe('TenantService agents', () => {
  test('putAgent adds an agent beside `agent`, then replaces it; the stored document keeps its form', async () => {
    const h = await harness();
    await h.service.create(doc('acme'));
    const added = await h.service.putAgent('acme', 'sales', flowAgent('Sales here.'));
    assert.equal(added.created, true);
    assert.deepEqual(Object.keys(added.record.tenant.agents).sort(), ['default', 'sales']);
    const replaced = await h.service.putAgent('acme', 'default', flowAgent('New default.'));
    assert.equal(replaced.created, false);
    assert.equal(replaced.record.tenant.agents.default?.greeting, 'New default.');
    const stored = (await h.store.tenants.get('acme'))?.document as Record<string, any>;
    assert.equal(stored.agent.greeting, 'New default.', 'the default agent stays under `agent`');
    assert.equal(stored.agents.sales.greeting, 'Sales here.');
    await h.close();
  });

  test('putAgent reports problems relative to the agent body; file tenants are read_only', async () => {
    const h = await harness();
    await h.service.create(doc('acme'));
    const e = await apiError(() => h.service.putAgent('acme', 'sales', { greeting: 'no flow' }));
    assert.equal(e.code, 'validation_failed');
    assert.deepEqual(paths(e), ['flow']);
    const p = await apiError(() => h.service.putAgent('acme', 'sales', { ...flowAgent('x'), tts: { provider: 'espeak', bogus: 1 } }));
    assert.deepEqual(paths(p), ['tts'], 'an unknown option: the provider entry itself');
    assert.match((p.details as Array<{ message: string }>)[0]?.message ?? '', /bogus/);
    assert.equal((await apiError(() => h.service.putAgent('filed', 'sales', flowAgent('x')))).code, 'read_only');
    assert.equal(h.service.get('acme')?.tenant.agents.sales, undefined);
    await h.close();
  });

  test('deleteAgent refuses the last agent, a routed agent and the explicit default agent', async () => {
    const h = await harness();
    await h.service.create(doc('acme', { phoneNumbers: ['+15550100001'] }));
    assert.equal((await apiError(() => h.service.deleteAgent('acme', 'default'))).code, 'conflict', 'last agent');
    await h.service.putAgent('acme', 'sales', flowAgent('Sales.'));
    const routed = await apiError(() => h.service.deleteAgent('acme', 'default'));
    assert.equal(routed.code, 'conflict');
    assert.match(routed.message, /\+15550100001/);
    await h.service.create(doc('beta', { agent: undefined, agents: { a: flowAgent('A'), b: flowAgent('B') }, defaultAgent: 'b' }));
    assert.equal((await apiError(() => h.service.deleteAgent('beta', 'b'))).code, 'conflict', 'explicit default');
    const after = await h.service.deleteAgent('beta', 'a');
    assert.deepEqual(Object.keys(after.tenant.agents), ['b']);
    assert.equal((await apiError(() => h.service.deleteAgent('beta', 'a'))).code, 'not_found');
    await h.close();
  });
});

describe('TenantService numbers', () => {
  test('add, reroute and remove take effect on routing at once', async () => {
    const h = await harness();
    await h.service.create(doc('acme', { agents: { sales: flowAgent('Sales.') } }));
    await h.service.addNumber('acme', '+15550100005');
    assert.equal(h.directory.route('+15550100005')?.agentId, 'default');
    await h.service.setNumberAgent('acme', '+15550100005', 'sales');
    assert.equal(h.directory.route('+15550100005')?.agentId, 'sales');
    assert.deepEqual((await h.store.tenants.get('acme'))?.document.phoneNumbers, [{ number: '+15550100005', agent: 'sales' }]);
    await h.service.removeNumber('acme', '+15550100005');
    assert.equal(h.directory.route('+15550100005'), undefined);
    await h.close();
  });

  test('conflicts, unknown agents and unknown numbers', async () => {
    const h = await harness();
    await h.service.create(doc('acme', { phoneNumbers: ['+15550100001'] }));
    assert.equal((await apiError(() => h.service.addNumber('acme', FILE_NUMBER))).code, 'conflict', 'routed by another tenant');
    assert.equal((await apiError(() => h.service.addNumber('acme', '+15550100001'))).code, 'conflict', 'already ours');
    const unknownAgent = await apiError(() => h.service.addNumber('acme', '+15550100002', 'ghost'));
    assert.equal(unknownAgent.code, 'validation_failed');
    assert.deepEqual(paths(unknownAgent), ['agentId']);
    assert.equal((await apiError(() => h.service.setNumberAgent('acme', '+15550100009', 'default'))).code, 'not_found');
    assert.equal((await apiError(() => h.service.removeNumber('acme', FILE_NUMBER))).code, 'not_found');
    assert.equal((await apiError(() => h.service.addNumber('filed', '+15550100008'))).code, 'read_only');
    assert.equal(h.directory.route(FILE_NUMBER)?.tenant.id, 'filed');
    await h.close();
  });
});

describe('TenantService.loadStored', () => {
  test('loads valid stored tenants and logs and skips the rest without failing', async () => {
    const store = await openStore({ dataDir: join(root, `db-${seq++}`) });
    const now = 1_700_000_000_000;
    await store.tenants.create('good', doc('good', { phoneNumbers: ['+15550100011'] }), now);
    await store.tenants.create('broken', { id: 'broken', name: 'x', agent: { greeting: 'hi', llm: { provider: 'removed-provider' } } }, now);
    await store.tenants.create('filed', doc('filed'), now);
    await store.tenants.create('thief', doc('thief', { phoneNumbers: [FILE_NUMBER] }), now);
    const h = await harness({ store });
    const result = await h.service.loadStored();
    assert.deepEqual(result.loaded, ['good']);
    assert.deepEqual(result.skipped.sort(), ['broken', 'filed', 'thief']);
    assert.equal(h.directory.route('+15550100011')?.tenant.id, 'good');
    assert.equal(h.directory.source('filed'), 'file');
    assert.equal(h.service.get('good')?.createdAtMs, now);
    const errors = h.logs.filter((l) => l.level === 50).map((l) => l.tenantId);
    assert.deepEqual(errors.sort(), ['broken', 'filed', 'thief']);
    await h.close();
  });
});
