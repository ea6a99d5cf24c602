import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { encodeWav, parseWav } from '../../audio/wav.js';
import { recordingFilePath, recordingRelativePath } from '../../recording/stereo-recorder.js';
import { openStore, type Store } from '../../store/store.js';
import { createPrincipalResolver, hashApiKey, requireAuth } from '../auth.js';
import { installErrorHandlers } from '../errors.js';
import { parseRange, registerRecordingRoutes } from './recordings.js';

const ADMIN_KEY = 'admin-key-for-tests-0123456789';
const ACME_KEY = 'acme-tenant-key';
const GLOBEX_KEY = 'globex-tenant-key';
const acme = { authorization: `Bearer ${ACME_KEY}` };
const globex = { authorization: `Bearer ${GLOBEX_KEY}` };
const admin = { authorization: `Bearer ${ADMIN_KEY}` };
const T0 = Date.UTC(2025, 0, 2);

let root: string;
let store: Store;
let app: FastifyInstance;
let wav: Buffer;

/** The /v1 scope as app.ts builds it, with only the recording routes. */
function buildApp(): FastifyInstance {
  const a = Fastify();
  a.decorateRequest('principal', null);
  installErrorHandlers(a);
  const resolvePrincipal = createPrincipalResolver({
    adminKey: ADMIN_KEY,
    tenantKeys: [
      { tenantId: 'acme', keySha256Hex: hashApiKey(ACME_KEY) },
      { tenantId: 'globex', keySha256Hex: hashApiKey(GLOBEX_KEY) },
    ],
  });
  a.register(
    async (v1) => {
      v1.addHook('onRequest', requireAuth({ resolvePrincipal, configured: true }));
      registerRecordingRoutes(v1, { store, dataDir: root });
    },
    { prefix: '/v1' },
  );
  return a;
}

async function callWithRecording(id: string, o: { tenantId?: string; live?: boolean; file?: Buffer | null; deletedAtMs?: number } = {}) {
  const tenantId = o.tenantId ?? 'acme';
  await store.calls.create({ id, tenantId, direction: 'inbound', fromNumber: 'a', toNumber: 'b', startedAtMs: T0 });
  if (o.live !== true) await store.calls.end(id, { status: 'completed', endReason: 'caller_hangup', endedAtMs: T0 + 60_000 });
  const file = o.file === undefined ? wav : o.file;
  if (file !== null) {
    const path = recordingFilePath(root, tenantId, id);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, file);
  }
  await store.calls.update(id, {
    recording: { path: recordingRelativePath(tenantId, id), bytes: wav.length, durationMs: 125, sampleRateHz: 8000, ...(o.deletedAtMs !== undefined ? { deletedAtMs: o.deletedAtMs } : {}) },
  });
}

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'parley-rec-api-'));
  store = await openStore({ dataDir: root });
  const left = new Int16Array(1000).map((_, i) => (i * 37) % 2000);
  const right = new Int16Array(1000).map((_, i) => -((i * 11) % 3000));
  wav = encodeWav({ sampleRateHz: 8000, channels: [left, right] });
  await callWithRecording('call_rec');
  await callWithRecording('call_globex', { tenantId: 'globex' });
  await callWithRecording('call_none', { file: null });
  await store.calls.update('call_none', { recording: null });
  await callWithRecording('call_deleted', { file: null, deletedAtMs: T0 + 1 });
  await callWithRecording('call_missing_file', { file: null });
  await callWithRecording('call_live', { live: true });
  await callWithRecording('call_del');
  await callWithRecording('call_del_gone', { file: null });
  app = buildApp();
});

after(async () => {
  await app.close();
  await store.close();
  await rm(root, { recursive: true, force: true });
});

describe('GET /v1/calls/:id/recording', () => {
  test('serves the WAV to the owning tenant as an attachment', async () => {
    const res = await app.inject({ method: 'GET', url: '/v1/calls/call_rec/recording', headers: acme });
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['content-type'], 'audio/wav');
    assert.equal(res.headers['content-length'], String(wav.length));
    assert.equal(res.headers['content-disposition'], 'attachment; filename="call_rec.wav"');
    assert.equal(res.headers['accept-ranges'], 'bytes');
    assert.deepEqual(res.rawPayload, wav);
    assert.equal(parseWav(res.rawPayload).channels, 2);
  });

  test("another tenant's call is a plain 404", async () => {
    const res = await app.inject({ method: 'GET', url: '/v1/calls/call_rec/recording', headers: globex });
    assert.equal(res.statusCode, 404);
    assert.equal(res.json().error.code, 'not_found');
    assert.equal(res.json().error.message, 'Call call_rec not found');
  });

  test('the admin key reaches every tenant; with ?tenantId= only that one', async () => {
    assert.equal((await app.inject({ method: 'GET', url: '/v1/calls/call_globex/recording', headers: admin })).statusCode, 200);
    assert.equal((await app.inject({ method: 'GET', url: '/v1/calls/call_globex/recording?tenantId=acme', headers: admin })).statusCode, 404);
  });

  test('needs an API key', async () => {
    assert.equal((await app.inject({ method: 'GET', url: '/v1/calls/call_rec/recording' })).statusCode, 401);
  });

  test('a call without a live recording is a 404 that says why', async () => {
    for (const [id, why] of [
      ['call_none', /has no recording/],
      ['call_deleted', /was deleted at 2025-01-02T00:00:00.001Z/],
      ['call_missing_file', /its file is missing/],
      ['call_unknown', /not found/],
    ] as const) {
      const res = await app.inject({ method: 'GET', url: `/v1/calls/${id}/recording`, headers: acme });
      assert.equal(res.statusCode, 404, id);
      assert.equal(res.json().error.code, 'not_found');
      assert.match(res.json().error.message, why);
    }
  });

  test('path-like ids name no file', async () => {
    for (const id of ['..%2F..%2Fparley.db', '%2E%2E', 'call_rec%2F..%2Fcall_globex']) {
      const res = await app.inject({ method: 'GET', url: `/v1/calls/${id}/recording`, headers: admin });
      assert.equal(res.statusCode, 404, id);
    }
  });

  test('serves a single byte range with 206 and Content-Range', async () => {
    const res = await app.inject({ method: 'GET', url: '/v1/calls/call_rec/recording', headers: { ...acme, range: 'bytes=44-143' } });
    assert.equal(res.statusCode, 206);
    assert.equal(res.headers['content-range'], `bytes 44-143/${wav.length}`);
    assert.equal(res.headers['content-length'], '100');
    assert.deepEqual(res.rawPayload, wav.subarray(44, 144));

    const open = await app.inject({ method: 'GET', url: '/v1/calls/call_rec/recording', headers: { ...acme, range: 'bytes=4000-' } });
    assert.equal(open.statusCode, 206);
    assert.deepEqual(open.rawPayload, wav.subarray(4000));

    const suffix = await app.inject({ method: 'GET', url: '/v1/calls/call_rec/recording', headers: { ...acme, range: 'bytes=-10' } });
    assert.deepEqual(suffix.rawPayload, wav.subarray(wav.length - 10));
  });

  test('a range past the end is 416 with the size; an unusable Range header gets the whole file', async () => {
    const res = await app.inject({ method: 'GET', url: '/v1/calls/call_rec/recording', headers: { ...acme, range: `bytes=${wav.length}-` } });
    assert.equal(res.statusCode, 416);
    assert.equal(res.headers['content-range'], `bytes */${wav.length}`);
    for (const range of ['bytes=0-1,5-6', 'items=0-1', 'bytes=9-3', 'bytes=abc']) {
      const full = await app.inject({ method: 'GET', url: '/v1/calls/call_rec/recording', headers: { ...acme, range } });
      assert.equal(full.statusCode, 200, range);
      assert.equal(full.rawPayload.length, wav.length);
    }
  });
});

describe('DELETE /v1/calls/:id/recording', () => {
  test('removes the file and marks the recording deleted; a second delete is a 404', async () => {
    const path = recordingFilePath(root, 'acme', 'call_del');
    assert.equal((await app.inject({ method: 'DELETE', url: '/v1/calls/call_del/recording', headers: globex })).statusCode, 404);
    assert.equal(existsSync(path), true);
    const res = await app.inject({ method: 'DELETE', url: '/v1/calls/call_del/recording', headers: acme });
    assert.equal(res.statusCode, 204);
    assert.equal(existsSync(path), false);
    const call = await store.calls.get('call_del');
    assert.equal(typeof call?.recording?.deletedAtMs, 'number');
    assert.equal(call?.recording?.path, 'recordings/acme/call_del.wav');
    assert.equal((await app.inject({ method: 'GET', url: '/v1/calls/call_del/recording', headers: acme })).statusCode, 404);
    assert.equal((await app.inject({ method: 'DELETE', url: '/v1/calls/call_del/recording', headers: acme })).statusCode, 404);
  });

  test('a recording whose file is already gone is still marked deleted', async () => {
    assert.equal((await app.inject({ method: 'DELETE', url: '/v1/calls/call_del_gone/recording', headers: acme })).statusCode, 204);
    assert.equal(typeof (await store.calls.get('call_del_gone'))?.recording?.deletedAtMs, 'number');
  });

  test('refuses while the call is in progress', async () => {
    const res = await app.inject({ method: 'DELETE', url: '/v1/calls/call_live/recording', headers: acme });
    assert.equal(res.statusCode, 409);
    assert.equal(res.json().error.code, 'conflict');
    assert.equal(existsSync(recordingFilePath(root, 'acme', 'call_live')), true);
  });
});

describe('parseRange', () => {
  test('reads single byte ranges and clamps the end to the file', () => {
    assert.deepEqual(parseRange(undefined, 100), { kind: 'full' });
    assert.deepEqual(parseRange('bytes=0-0', 100), { kind: 'partial', start: 0, end: 0 });
    assert.deepEqual(parseRange('bytes=90-500', 100), { kind: 'partial', start: 90, end: 99 });
    assert.deepEqual(parseRange('bytes=-500', 100), { kind: 'partial', start: 0, end: 99 });
    assert.deepEqual(parseRange('bytes=-0', 100), { kind: 'unsatisfiable' });
    assert.deepEqual(parseRange('bytes=100-', 100), { kind: 'unsatisfiable' });
    assert.deepEqual(parseRange('bytes=-', 100), { kind: 'full' });
    assert.deepEqual(parseRange('bytes=99999999999999999999-', 100), { kind: 'full' });
  });
});
