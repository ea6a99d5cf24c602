import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Kysely } from 'kysely';
import { openDatabase } from '../store/database.js';
import { migrateToLatest } from '../store/migrations/index.js';
import { createRecordingsRepo, type RecordingsRepo } from '../store/recordings-repo.js';
import type { Database } from '../store/schema.js';
import { createStore, type Store } from '../store/store.js';
import { RecordingRetention } from './retention.js';
import { recordingFilePath, recordingRelativePath } from './stereo-recorder.js';

const DAY = 24 * 60 * 60 * 1000;
const NOW = Date.UTC(2025, 5, 1);

let root: string;
let db: Kysely<Database>;
let store: Store;
let recordings: RecordingsRepo;

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'parley-retention-'));
  db = openDatabase(root);
  await migrateToLatest(db);
  store = createStore(db);
  recordings = createRecordingsRepo(db);
});
after(async () => {
  await store.close();
  await rm(root, { recursive: true, force: true });
});

/** A call with a recording file; ended `endedDaysAgo` days before NOW (null: still in progress). */
async function callWithRecording(tenantId: string, id: string, o: { startedDaysAgo: number; endedDaysAgo: number | null; file?: boolean }) {
  await store.calls.create({ id, tenantId, direction: 'inbound', fromNumber: 'a', toNumber: 'b', startedAtMs: NOW - o.startedDaysAgo * DAY });
  if (o.endedDaysAgo !== null) await store.calls.end(id, { status: 'completed', endReason: 'caller_hangup', endedAtMs: NOW - o.endedDaysAgo * DAY });
  const path = recordingFilePath(root, tenantId, id);
  if (o.file !== false) {
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, 'RIFF');
  }
  await store.calls.update(id, { recording: { path: recordingRelativePath(tenantId, id), bytes: 4, durationMs: 0, sampleRateHz: 8000 } });
  return path;
}

const tenants: Record<string, { recordings: { retentionDays: number } }> = {
  acme: { recordings: { retentionDays: 7 } },
  globex: { recordings: { retentionDays: 30 } },
};

function retention() {
  return new RecordingRetention({ recordings, getTenant: (id) => tenants[id], dataDir: root, now: () => NOW });
}

describe('RecordingRetention', () => {
  test("deletes only recordings past their own tenant's retention, and marks them deleted", async () => {
    const acmeOld = await callWithRecording('acme', 'call_acme_old', { startedDaysAgo: 10, endedDaysAgo: 8 });
    const acmeNew = await callWithRecording('acme', 'call_acme_new', { startedDaysAgo: 8, endedDaysAgo: 6 }); // started long ago, ended recently
    const globexMid = await callWithRecording('globex', 'call_globex_mid', { startedDaysAgo: 8, endedDaysAgo: 8 });
    const globexOld = await callWithRecording('globex', 'call_globex_old', { startedDaysAgo: 31, endedDaysAgo: 31 });
    const acmeLive = await callWithRecording('acme', 'call_acme_live', { startedDaysAgo: 9, endedDaysAgo: null });
    const gone = await callWithRecording('acme', 'call_acme_gone', { startedDaysAgo: 20, endedDaysAgo: 20, file: false });
    const orphanTenant = await callWithRecording('initech', 'call_initech', { startedDaysAgo: 31, endedDaysAgo: 31 }); // tenant removed: 30-day default
    const orphanTenantNew = await callWithRecording('initech', 'call_initech_new', { startedDaysAgo: 29, endedDaysAgo: 29 });

    const result = await retention().sweep();

    assert.deepEqual(result, { deleted: 4, failed: 0 });
    for (const p of [acmeOld, globexOld, orphanTenant, gone]) assert.equal(existsSync(p), false, p);
    for (const p of [acmeNew, globexMid, acmeLive, orphanTenantNew]) assert.equal(existsSync(p), true, p);
    for (const id of ['call_acme_old', 'call_globex_old', 'call_initech', 'call_acme_gone']) {
      const call = await store.calls.get(id);
      assert.equal(call?.recording?.deletedAtMs, NOW, id);
      assert.equal(call?.recording?.path, recordingRelativePath(call!.tenantId, id), 'the rest of the metadata is kept');
    }
    assert.equal((await store.calls.get('call_acme_new'))?.recording?.deletedAtMs, undefined);

    // A second sweep finds nothing left to do.
    assert.deepEqual(await retention().sweep(), { deleted: 0, failed: 0 });
  });

  test('a file that cannot be removed is reported and left marked live for the next sweep', async () => {
    // A directory where the file should be: unlink fails with EISDIR/EPERM.
    const path = recordingFilePath(root, 'acme', 'call_stuck');
    await store.calls.create({ id: 'call_stuck', tenantId: 'acme', direction: 'inbound', fromNumber: 'a', toNumber: 'b', startedAtMs: NOW - 50 * DAY });
    await store.calls.end('call_stuck', { status: 'completed', endReason: 'caller_hangup', endedAtMs: NOW - 50 * DAY });
    await mkdir(path, { recursive: true });
    await store.calls.update('call_stuck', { recording: { path: recordingRelativePath('acme', 'call_stuck'), bytes: 4, durationMs: 0, sampleRateHz: 8000 } });
    const warnings: string[] = [];
    const r = new RecordingRetention({ recordings, getTenant: (id) => tenants[id], dataDir: root, now: () => NOW, log: { info: () => {}, warn: (_o, m) => warnings.push(m) } });
    assert.deepEqual(await r.sweep(), { deleted: 0, failed: 1 });
    assert.equal((await store.calls.get('call_stuck'))?.recording?.deletedAtMs, undefined);
    assert.deepEqual(warnings, ['recording retention: could not delete the file']);
    await rm(path, { recursive: true });
    assert.deepEqual(await r.sweep(), { deleted: 1, failed: 0 });
  });

  test('markDeleted refuses a call without a live recording', async () => {
    await store.calls.create({ id: 'call_plain', tenantId: 'acme', direction: 'inbound', fromNumber: 'a', toNumber: 'b', startedAtMs: NOW });
    assert.equal(await recordings.markDeleted('call_plain', NOW), false);
    assert.equal(await recordings.markDeleted('call_nope', NOW), false);
    assert.equal(await recordings.markDeleted('call_acme_old', NOW + 1), false, 'already deleted');
    assert.equal((await store.calls.get('call_acme_old'))?.recording?.deletedAtMs, NOW);
  });

  test('start sweeps at once and stop waits for it', async () => {
    await callWithRecording('acme', 'call_started', { startedDaysAgo: 9, endedDaysAgo: 9 });
    const r = retention();
    r.start();
    await r.stop();
    assert.ok((await store.calls.get('call_started'))?.recording?.deletedAtMs !== undefined);
  });
});
