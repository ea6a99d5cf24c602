import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { openStore, type Store } from '../store/store.js';
import { KEY_PREFIX_LENGTH, LAST_USED_WRITE_INTERVAL_MS, createStorePrincipalResolver, generateTenantKey, hashApiKey } from './auth.js';

const ADMIN = 'admin-key-for-auth-tests';
let root: string;
let store: Store;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'parley-auth-'));
  store = await openStore({ dataDir: root });
});
after(async () => {
  await store.close();
  await rm(root, { recursive: true, force: true });
});

async function newKey(tenantId: string) {
  const k = generateTenantKey();
  const row = await store.apiKeys.create({ tenantId, name: '', prefix: k.prefix, keySha256Hex: k.keySha256Hex, nowMs: 1 });
  return { ...k, id: row.id };
}

const bearer = (k: string) => `Bearer ${k}`;

describe('generateTenantKey', () => {
  test('pk_ + 32 random bytes base64url, stored as its SHA-256 with a 10-character prefix', () => {
    const a = generateTenantKey();
    const b = generateTenantKey();
    assert.match(a.key, /^pk_[A-Za-z0-9_-]{43}$/);
    assert.notEqual(a.key, b.key);
    assert.equal(a.keySha256Hex, hashApiKey(a.key));
    assert.equal(a.prefix, a.key.slice(0, KEY_PREFIX_LENGTH));
    assert.equal(a.prefix.length, 10);
  });
});

describe('createStorePrincipalResolver', () => {
  const live = new Set(['acme', 'globex']);
  const resolver = (now = () => 1_000) => createStorePrincipalResolver({ adminKey: ADMIN, apiKeys: store.apiKeys, tenantExists: (id) => live.has(id), now });

  test('the admin key is the admin; an active tenant key is its tenant; anything else proves nothing', async () => {
    const k = await newKey('acme');
    const resolve = resolver();
    assert.deepEqual(await resolve(bearer(ADMIN)), { kind: 'admin' });
    assert.deepEqual(await resolve(bearer(k.key)), { kind: 'tenant', tenantId: 'acme' });
    for (const h of [undefined, '', bearer(`${k.key}x`), bearer(k.keySha256Hex), `Basic ${k.key}`, bearer('pk_unknown'), bearer(`${ADMIN}x`)]) {
      assert.equal(await resolve(h), undefined, String(h));
    }
  });

  test('a revoked key stops working on the next request', async () => {
    const k = await newKey('acme');
    const resolve = resolver();
    assert.equal((await resolve(bearer(k.key)))?.kind, 'tenant');
    assert.equal(await store.apiKeys.revoke('acme', k.id, 2), true);
    assert.equal(await resolve(bearer(k.key)), undefined);
  });

  test('keys of a tenant that no longer exists do not work', async () => {
    const k = await newKey('gone');
    assert.equal(await resolver()(bearer(k.key)), undefined);
  });

  test('lastUsedAt is written at most once a minute per key', async () => {
    const k = await newKey('globex');
    let t = 10_000;
    const resolve = resolver(() => t);
    const lastUsed = async () => (await store.apiKeys.list('globex')).find((r) => r.id === k.id)?.lastUsedAtMs;
    await resolve(bearer(k.key));
    // The write is not awaited by the request; give it a moment.
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(await lastUsed(), 10_000);
    t += LAST_USED_WRITE_INTERVAL_MS - 1;
    await resolve(bearer(k.key));
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(await lastUsed(), 10_000, 'not written again within the minute');
    t += 1;
    await resolve(bearer(k.key));
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(await lastUsed(), 10_000 + LAST_USED_WRITE_INTERVAL_MS);
  });

  test('a failing lastUsedAt write does not fail the request', async () => {
    const k = await newKey('acme');
    const errors: unknown[] = [];
    const resolve = createStorePrincipalResolver({
      apiKeys: { findActiveByDigest: (d) => store.apiKeys.findActiveByDigest(d), touch: () => Promise.reject(new Error('disk full')) },
      tenantExists: () => true,
      onTouchError: (e) => errors.push(e),
    });
    assert.deepEqual(await resolve(bearer(k.key)), { kind: 'tenant', tenantId: 'acme' });
    await new Promise((r) => setTimeout(r, 10));
    assert.equal(errors.length, 1);
  });
});
