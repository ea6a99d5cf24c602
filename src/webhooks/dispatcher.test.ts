import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import { createLogger } from '../observability/logger.js';
import { openStore, type Store } from '../store/store.js';
import { tenantSchema, type TenantConfig, type TenantInput } from '../tenants/schema.js';
import { type AttemptReport, WebhookDispatcher, type WebhookDispatcherOptions } from './dispatcher.js';
import { WebhookEmitter } from './emitter.js';
import { verifyWebhookSignature } from './signature.js';
import { startWebhookReceiver, type WebhookReceiver } from './test-support.js';

const SECRET = 'whsec-test-0123456789abcdef';
const log = createLogger({ level: 'silent' });

let root: string;
let store: Store;
const receivers: WebhookReceiver[] = [];
const dispatchers: WebhookDispatcher[] = [];

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'parley-webhooks-'));
  store = await openStore({ dataDir: root });
});
afterEach(async () => {
  await Promise.all(dispatchers.splice(0).map((d) => d.stop()));
  await Promise.all(receivers.splice(0).map((r) => r.close()));
});
after(async () => {
  await store.close();
  await rm(root, { recursive: true, force: true });
});

function tenant(id: string, url: string, over: Partial<TenantInput> = {}): TenantConfig {
  return tenantSchema.parse({
    id,
    name: id,
    agent: { greeting: 'Hello', llm: { provider: 'openai', model: 'm' } },
    webhooks: [{ url, secret: SECRET }],
    network: { allowPrivateAddresses: true },
    ...over,
  });
}

async function receiver(statusOf?: (i: number) => number): Promise<WebhookReceiver> {
  const r = await startWebhookReceiver(statusOf);
  receivers.push(r);
  return r;
}

/** A started dispatcher for `tenants`, with its attempt reports and a way to wait for the n-th. */
function dispatcher(tenants: TenantConfig[], over: Partial<WebhookDispatcherOptions> = {}) {
  const reports: AttemptReport[] = [];
  const waiters: { n: number; resolve: () => void }[] = [];
  const d = new WebhookDispatcher({
    store,
    getTenant: (id) => tenants.find((t) => t.id === id),
    log,
    retryScheduleMs: [50, 100],
    pollIntervalMs: 60_000,
    onAttempt: (a) => {
      reports.push(a);
      for (const w of waiters.splice(0)) (reports.length >= w.n ? w.resolve : () => waiters.push(w))();
    },
    ...over,
  });
  dispatchers.push(d);
  d.start();
  const attempts = (n: number): Promise<AttemptReport[]> =>
    reports.length >= n ? Promise.resolve(reports) : new Promise((resolve) => waiters.push({ n, resolve: () => resolve(reports) }));
  return { d, reports, attempts };
}

function emitter(d: WebhookDispatcher): WebhookEmitter {
  return new WebhookEmitter({ store, log, onEnqueued: () => d.kick() });
}

describe('WebhookDispatcher', () => {
  test('delivers an event with the Parley headers and a signature the receiver can verify', async () => {
    const r = await receiver();
    const t = tenant('acme', r.url);
    const { d, attempts } = dispatcher([t]);
    await emitter(d).emit(t, 'call.started', { call: { id: 'call_1' } }, 'call_1');
    await attempts(1);

    assert.equal(r.received.length, 1);
    const got = r.received[0]!;
    assert.equal(got.path, '/hooks');
    assert.equal(got.headers['content-type'], 'application/json');
    assert.equal(got.headers['user-agent'], 'Parley-Webhooks/1');
    assert.equal(got.headers['x-parley-event'], 'call.started');
    const [row] = await store.deliveries.list({ tenantId: 'acme', callId: 'call_1' });
    assert.equal(got.headers['x-parley-delivery'], row?.id);
    assert.ok(verifyWebhookSignature(SECRET, String(got.headers['x-parley-signature']), got.rawBody, Date.now() / 1000));
    assert.ok(!verifyWebhookSignature('another-secret-0123456789', String(got.headers['x-parley-signature']), got.rawBody, Date.now() / 1000));

    const body = JSON.parse(got.rawBody);
    assert.match(body.id, /^evt_[0-9a-f]{32}$/);
    assert.equal(body.type, 'call.started');
    assert.equal(body.tenantId, 'acme');
    assert.equal(new Date(body.createdAt).toISOString(), body.createdAt);
    assert.deepEqual(body.data, { call: { id: 'call_1' } });

    assert.equal(row?.status, 'delivered');
    assert.equal(row?.attempts, 1);
    assert.equal(row?.lastStatusCode, 200);
    assert.equal(row?.lastError, null);
    assert.equal(row?.nextAttemptAtMs, null);
    assert.notEqual(row?.deliveredAtMs, null);
  });

  test('retries a receiver that fails twice, then answers 200, recording every attempt', async () => {
    const r = await receiver((i) => (i === 0 ? 500 : i === 1 ? 503 : 200));
    const t = tenant('retry', r.url);
    const { d, attempts } = dispatcher([t]);
    await emitter(d).emit(t, 'call.ended', { n: 1 }, 'call_retry');
    const reports = await attempts(3);

    assert.deepEqual(
      reports.map((a) => [a.result, a.statusCode]),
      [
        ['pending', 500],
        ['pending', 503],
        ['delivered', 200],
      ],
    );
    assert.match(reports[0]?.error ?? '', /^HTTP 500: receiver says no/);
    assert.equal(r.received.length, 3);
    // The same event (same id) every time, each attempt signed.
    const ids = r.received.map((x) => JSON.parse(x.rawBody).id);
    assert.equal(new Set(ids).size, 1);
    for (const x of r.received) assert.ok(verifyWebhookSignature(SECRET, String(x.headers['x-parley-signature']), x.rawBody, Date.now() / 1000));
    const [row] = await store.deliveries.list({ callId: 'call_retry' });
    assert.equal(row?.status, 'delivered');
    assert.equal(row?.attempts, 3);
    assert.equal(row?.lastStatusCode, 200);
  });

  test('a receiver that always fails ends failed once the schedule is used up', async () => {
    const r = await receiver(() => 404);
    const t = tenant('failing', r.url);
    const { d, attempts } = dispatcher([t]);
    await emitter(d).emit(t, 'tool.called', { tool: 'x' }, 'call_fail');
    const reports = await attempts(3);

    assert.deepEqual(
      reports.map((a) => a.result),
      ['pending', 'pending', 'failed'],
    );
    await d.stop();
    assert.equal(r.received.length, 3);
    const [row] = await store.deliveries.list({ callId: 'call_fail' });
    assert.equal(row?.status, 'failed');
    assert.equal(row?.attempts, 3);
    assert.equal(row?.lastStatusCode, 404);
    assert.match(row?.lastError ?? '', /^HTTP 404/);
    assert.equal(row?.nextAttemptAtMs, null);
  });

  test('refuses a loopback URL when the tenant does not allow private addresses, recording the error', async () => {
    const r = await receiver();
    const t = tenant('guarded', r.url, { network: { allowPrivateAddresses: false } });
    const { d, attempts } = dispatcher([t], { retryScheduleMs: [] });
    await emitter(d).emit(t, 'call.started', {}, 'call_guarded');
    const [report] = await attempts(1);

    assert.equal(report?.result, 'failed');
    assert.equal(r.received.length, 0);
    const [row] = await store.deliveries.list({ callId: 'call_guarded' });
    assert.equal(row?.status, 'failed');
    assert.equal(row?.attempts, 1);
    assert.equal(row?.lastStatusCode, null);
    assert.match(row?.lastError ?? '', /private, loopback or reserved address/);
  });

  test('a refused URL is retried like any failure while the schedule lasts', async () => {
    const r = await receiver();
    const t = tenant('guarded-retry', r.url, { network: { allowPrivateAddresses: false } });
    const { d, attempts } = dispatcher([t], { retryScheduleMs: [20] });
    await emitter(d).emit(t, 'call.started', {}, 'call_guarded_retry');
    const reports = await attempts(2);
    assert.deepEqual(
      reports.map((a) => [a.result, a.statusCode]),
      [
        ['pending', null],
        ['failed', null],
      ],
    );
    assert.equal(r.received.length, 0);
  });

  test('fails the pending delivery of an endpoint removed from the tenant, without sending it', async () => {
    const r = await receiver();
    const before = tenant('removed', r.url);
    const now = tenant('removed', 'https://elsewhere.example.com/hooks');
    // Queued while the endpoint existed; the dispatcher only sees the current configuration.
    await new WebhookEmitter({ store, log }).emit(before, 'call.started', {}, 'call_removed');
    const { attempts } = dispatcher([now]);
    const [report] = await attempts(1);

    assert.equal(report?.result, 'failed');
    assert.equal(r.received.length, 0);
    const [row] = await store.deliveries.list({ callId: 'call_removed' });
    assert.equal(row?.status, 'failed');
    assert.match(row?.lastError ?? '', /no longer in the tenant configuration/);
  });

  test('sends deliveries queued before start (they survive a restart)', async () => {
    const r = await receiver();
    const t = tenant('restart', r.url);
    await new WebhookEmitter({ store, log }).emit(t, 'call.ended', { x: 1 }, 'call_restart');
    assert.equal((await store.deliveries.list({ callId: 'call_restart' }))[0]?.status, 'pending');
    const { attempts } = dispatcher([t]);
    await attempts(1);
    assert.equal(r.received.length, 1);
    assert.equal((await store.deliveries.list({ callId: 'call_restart' }))[0]?.status, 'delivered');
  });

  test('stop() waits for the attempt in flight, which is recorded', async () => {
    const r = await receiver();
    const t = tenant('stopping', r.url);
    const { d } = dispatcher([t]);
    await emitter(d).emit(t, 'call.started', {}, 'call_stopping');
    await r.waitFor(1);
    // The receiver has answered; stop() resolves only once the outcome is written.
    await d.stop();
    assert.equal((await store.deliveries.list({ callId: 'call_stopping' }))[0]?.status, 'delivered');
  });
  test('a delivery whose attempt cannot be recorded is not resent in a loop', async () => {
    const r = await receiver();
    const t = tenant('unrecorded', r.url);
    let failedWrites = 0;
    let onFailedWrite: () => void = () => {};
    const failedOnce = new Promise<void>((resolve) => {
      onFailedWrite = resolve;
    });
    const failing = {
      deliveries: {
        ...store.deliveries,
        recordAttempt: () => {
          failedWrites++;
          onFailedWrite();
          return Promise.reject(new Error('database is locked'));
        },
      },
    };
    const { d } = dispatcher([t], { store: failing });
    const emit = new WebhookEmitter({ store, log, onEnqueued: () => d.kick() });
    await emit.emit(t, 'call.started', { n: 1 }, 'call_unrecorded');
    await failedOnce;
    // A later event still goes out: the dispatcher keeps working, the unrecorded one waits.
    await emit.emit(t, 'call.started', { n: 2 }, 'call_unrecorded');
    await r.waitFor(2);
    await d.stop();
    assert.deepEqual(
      r.received.map((x) => JSON.parse(x.rawBody).data.n),
      [1, 2],
    );
    assert.equal(failedWrites, 2);
  });
});
