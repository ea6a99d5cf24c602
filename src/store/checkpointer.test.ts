import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import { type CheckpointReport, startCheckpointer } from './checkpointer.js';
import { DATABASE_FILE_NAME } from './database.js';
import { openStore } from './store.js';

let root: string;
let seq = 0;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'parley-checkpoint-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

function walDb(): { db: BetterSqlite3.Database; walPages(): number } {
  const file = join(root, `db-${seq++}.db`);
  const db = new BetterSqlite3(file);
  db.pragma('journal_mode = WAL');
  db.exec('create table t (id integer primary key, blob blob)');
  const pageSize = db.pragma('page_size', { simple: true }) as number;
  return { db, walPages: () => (existsSync(`${file}-wal`) ? Math.floor(statSync(`${file}-wal`).size / (pageSize + 24)) : 0) };
}

/** 2 000 commits of one 4 KB row each: past SQLite's 1 000-page automatic checkpoint. */
function writeManyPages(db: BetterSqlite3.Database): void {
  const ins = db.prepare('insert into t (blob) values (?)');
  for (let i = 0; i < 2000; i++) ins.run(Buffer.alloc(4000, i & 0xff));
}

test('the serving connection no longer checkpoints; the worker does, without blocking it', async () => {
  const { db, walPages } = walDb();
  const reports: CheckpointReport[] = [];
  const cp = startCheckpointer(db, { intervalMs: 3_600_000, onCheckpoint: (r) => reports.push(r) });
  try {
    assert.equal(db.pragma('wal_autocheckpoint', { simple: true }), 0);
    writeManyPages(db);
    // With automatic checkpoints the log would have been copied back and restarted near 1 000 pages.
    assert.ok(walPages() > 2000, `WAL holds ${walPages()} pages`);
  } finally {
    await cp.stop();
    db.close();
  }
  assert.equal(reports.length, 0, 'the hour-long interval never elapsed');
});

test('the worker checkpoints the whole log every interval', async () => {
  const { db } = walDb();
  let resolve!: (r: CheckpointReport) => void;
  const complete = new Promise<CheckpointReport>((r) => (resolve = r));
  const cp = startCheckpointer(db, {
    intervalMs: 20,
    onCheckpoint: (r) => {
      if (r.walPages > 2000 && r.checkpointedPages === r.walPages) resolve(r);
    },
  });
  try {
    writeManyPages(db);
    const r = await complete;
    assert.ok(r.checkpointedPages > 2000);
  } finally {
    await cp.stop();
    db.close();
  }
});

test('if the worker fails, the serving connection checkpoints again and the failure is reported', async () => {
  const { db } = walDb();
  const failed = new Promise<string>((resolve) => {
    startCheckpointer(db, { workerSource: 'throw new Error("no sqlite here")', onError: resolve });
  });
  assert.match(await failed, /no sqlite here/);
  assert.equal(db.pragma('wal_autocheckpoint', { simple: true }), 1000);
  db.close();
});

test('a store opened for the server checkpoints on its worker and closes cleanly', async () => {
  const dataDir = join(root, `store-${seq++}`);
  const store = await openStore({ dataDir, checkpointInWorker: true });
  const call = await store.calls.create({ tenantId: 'acme', direction: 'inbound', fromNumber: '+1', toNumber: '+2', startedAtMs: 1 });
  await store.events.append({ callId: call.id, atMs: 2, type: 'x' });
  await store.close();
  // The last connection to close checkpoints and removes the log: nothing was left behind in it.
  assert.equal(existsSync(join(dataDir, `${DATABASE_FILE_NAME}-wal`)), false);
  const reopened = await openStore({ dataDir });
  assert.equal((await reopened.calls.get(call.id))?.events[0]?.type, 'x');
  await reopened.close();
});
