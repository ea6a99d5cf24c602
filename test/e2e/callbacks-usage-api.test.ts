import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ACME_NUMBER, type Platform, acmeTenant, startPlatform } from '../support/platform.js';

/** 2025-06-01 12:00 UTC, fixed so due times and the usage window are exact. */
const NOW = Date.UTC(2025, 5, 1, 12, 0, 0);
let p: Platform;

before(async () => {
  const acme = acmeTenant((t) => ({ ...t, quotas: { dailyCalls: 50, maxConcurrentCalls: 5 } }));
  const globex = acmeTenant((t) => ({ ...t, id: 'globex', name: 'Globex', phoneNumbers: ['+15550200000'] }));
  p = await startPlatform([acme, globex], { now: () => NOW });
});
after(() => p.close());

const inject = (method: 'GET' | 'POST' | 'DELETE', url: string, tenantId?: string, payload?: unknown) =>
  p.app.inject({ method, url, headers: p.auth(tenantId), ...(payload !== undefined ? { payload: payload as Record<string, unknown> } : {}) });

describe('/v1/callbacks', () => {
  test('schedule, list and cancel a callback', async () => {
    const created = await inject('POST', '/v1/callbacks', 'acme', { to: '+15557654321', at: '2025-06-01T15:30:00+02:00', reason: 'Quote for the roof' });
    assert.equal(created.statusCode, 201, created.body);
    const cb = created.json();
    assert.match(cb.id, /^cb_/);
    assert.equal(cb.at, '2025-06-01T13:30:00.000Z');
    assert.equal(cb.agentId, 'support');
    assert.equal(cb.status, 'scheduled');
    assert.equal(cb.reason, 'Quote for the roof');

    const list = await inject('GET', '/v1/callbacks', 'acme');
    assert.deepEqual(list.json().data.map((c: { id: string }) => c.id), [cb.id]);
    assert.deepEqual((await inject('GET', '/v1/callbacks', 'globex')).json().data, [], 'another tenant sees none');

    assert.equal((await inject('DELETE', `/v1/callbacks/${cb.id}`, 'globex')).statusCode, 404, 'another tenant cannot cancel it');
    const canceled = await inject('DELETE', `/v1/callbacks/${cb.id}`, 'acme');
    assert.equal(canceled.statusCode, 204);
    const again = await inject('DELETE', `/v1/callbacks/${cb.id}`, 'acme');
    assert.equal(again.statusCode, 409);
    assert.equal(again.json().error.code, 'conflict');
    assert.equal((await inject('GET', '/v1/callbacks?status=canceled', 'acme')).json().data[0].status, 'canceled');
  });

  test('bad times, numbers and agents are 400s naming the field', async () => {
    for (const [body, path] of [
      [{ to: '+15557654321', at: '2025-06-01T11:00:00Z' }, 'at'],
      [{ to: '+15557654321', at: '2025-08-01T12:00:00Z' }, 'at'],
      [{ to: '+15557654321', at: 'tomorrow' }, 'at'],
      [{ to: '555', at: '2025-06-01T13:00:00Z' }, 'to'],
      [{ to: '+15557654321', at: '2025-06-01T13:00:00Z', agentId: 'nobody' }, 'agentId'],
    ] as const) {
      const res = await inject('POST', '/v1/callbacks', 'acme', body);
      assert.equal(res.statusCode, 400, JSON.stringify(body));
      assert.deepEqual(res.json().error.details.map((d: { path: string }) => d.path), [path], JSON.stringify(body));
    }
  });

  test('the admin key must name the tenant to create one', async () => {
    const res = await inject('POST', '/v1/callbacks', undefined, { to: '+15557654321', at: '2025-06-01T13:00:00Z' });
    assert.equal(res.statusCode, 400);
    const ok = await inject('POST', '/v1/callbacks?tenantId=globex', undefined, { to: '+15557654321', at: '2025-06-01T13:00:00Z' });
    assert.equal(ok.statusCode, 201);
    assert.equal(ok.json().tenantId, 'globex');
    assert.equal((await inject('POST', '/v1/callbacks?tenantId=nope', undefined, { to: '+15557654321', at: '2025-06-01T13:00:00Z' })).statusCode, 404);
  });
});

describe('/v1/usage', () => {
  test('today\'s calls, minutes and cost against the tenant\'s quotas', async () => {
    await p.store.calls.create({ tenantId: 'acme', direction: 'inbound', fromNumber: '+15557654321', toNumber: ACME_NUMBER, startedAtMs: NOW - 60_000, answeredAtMs: NOW - 60_000 });
    const res = await inject('GET', '/v1/usage', 'acme');
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(res.json(), {
      tenantId: 'acme',
      since: '2025-06-01T00:00:00.000Z',
      resetsAt: '2025-06-02T00:00:00.000Z',
      calls: { used: 1, limit: 50 },
      minutes: { used: 1, limit: null },
      cost: { used: 0, limit: null, currency: 'USD' },
      concurrentCalls: { used: 1, limit: 5 },
    });
  });

  test('the admin key names the tenant; an unknown tenant is a 404', async () => {
    assert.equal((await inject('GET', '/v1/usage')).statusCode, 400);
    assert.equal((await inject('GET', '/v1/usage?tenantId=globex')).json().tenantId, 'globex');
    assert.equal((await inject('GET', '/v1/usage?tenantId=nope')).statusCode, 404);
  });
});
