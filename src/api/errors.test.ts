import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, test } from 'node:test';
import Fastify from 'fastify';
import { z } from 'zod';
import { ApiError, errorCatalog, installErrorHandlers, toApiError, type ErrorCode } from './errors.js';

const DOC_URL = new URL('../../docs/api-errors.md', import.meta.url);

describe('error catalog', () => {
  test('every catalog code is documented in docs/api-errors.md with its status', async () => {
    const doc = await readFile(DOC_URL, 'utf8');
    for (const [code, entry] of Object.entries(errorCatalog)) {
      const row = doc.split('\n').find((l) => l.startsWith(`| \`${code}\` |`));
      assert.ok(row, `code ${code} is not documented in docs/api-errors.md`);
      assert.match(row, new RegExp(`\\| ${entry.status} \\|`), `documented status of ${code} differs from ${entry.status}`);
      assert.match(row, new RegExp(`\\| ${entry.retryable ? 'yes' : 'no'} \\|`), `documented retry of ${code} differs`);
    }
  });

  test('docs list no code missing from the catalog', async () => {
    const doc = await readFile(DOC_URL, 'utf8');
    const documented = [...doc.matchAll(/^\| `([a-z_]+)` \|/gm)].map((m) => m[1]);
    assert.deepEqual(documented.sort(), Object.keys(errorCatalog).sort());
  });

  test('ApiError takes status and default message from the catalog', () => {
    const e = new ApiError('rate_limited');
    assert.equal(e.status, 429);
    assert.equal(e.retryable, true);
    assert.equal(e.message, errorCatalog.rate_limited.message);
  });

  test('toApiError maps zod errors to validation_failed with paths, unknown errors to internal', () => {
    const parsed = z.object({ limit: z.number().max(5) }).safeParse({ limit: 9 });
    assert.equal(parsed.success, false);
    const v = toApiError(parsed.error);
    assert.equal(v.code, 'validation_failed');
    assert.deepEqual((v.details as Array<{ path: string }>).map((d) => d.path), ['limit']);
    assert.equal(toApiError(new Error('db exploded')).code, 'internal');
    assert.equal(toApiError(Object.assign(new Error('x'), { statusCode: 429 })).code, 'rate_limited');
  });
});

describe('error handlers', () => {
  function app() {
    const a = Fastify();
    installErrorHandlers(a);
    a.get('/boom', async () => {
      throw new Error('secret internals at /srv/db.ts:42');
    });
    a.get('/teapot', async () => {
      throw new ApiError('unavailable', { message: 'draining' });
    });
    a.post('/echo', async (req) => req.body);
    return a;
  }

  test('a thrown error becomes a 500 internal JSON body without message or stack', async () => {
    const res = await app().inject({ method: 'GET', url: '/boom' });
    assert.equal(res.statusCode, 500);
    assert.deepEqual(res.json(), { error: { code: 'internal', message: errorCatalog.internal.message } });
    assert.ok(!res.body.includes('secret internals'));
  });

  test('an ApiError keeps its code, status and message', async () => {
    const res = await app().inject({ method: 'GET', url: '/teapot' });
    assert.equal(res.statusCode, 503);
    assert.deepEqual(res.json(), { error: { code: 'unavailable', message: 'draining' } });
  });

  test('unknown routes answer route_not_found JSON', async () => {
    const res = await app().inject({ method: 'GET', url: '/nope?x=1' });
    assert.equal(res.statusCode, 404);
    assert.equal(res.json().error.code, 'route_not_found' satisfies ErrorCode);
  });

  test('framework errors map to catalog codes: invalid JSON, wrong content type', async () => {
    const bad = await app().inject({ method: 'POST', url: '/echo', headers: { 'content-type': 'application/json' }, payload: '{nope' });
    assert.equal(bad.statusCode, 400);
    assert.equal(bad.json().error.code, 'malformed_request');
    const media = await app().inject({ method: 'POST', url: '/echo', headers: { 'content-type': 'application/x-weird' }, payload: 'x' });
    assert.equal(media.statusCode, 415);
    assert.equal(media.json().error.code, 'unsupported_media_type');
  });
});
