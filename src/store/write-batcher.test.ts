import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import { DATABASE_FILE_NAME } from './database.js';
import { openStore, type Store } from './store.js';
import { WriteBatcher } from './write-batcher.js';

let root: string;
let seq = 0;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'parley-batcher-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

/**
 * A store with one call; a second connection to the same file, which sees only committed data; the
 * batches the store was asked to run; and the WAL's size in frames (each commit appends the pages it
 * changed, so many small commits make many frames).
 */
async function setup(): Promise<{
  store: Store;
  batches: number;
  callId: string;
  other: BetterSqlite3.Database;
  walFrames(): number;
  close(): Promise<void>;
}> {
  const dataDir = join(root, `db-${seq++}`);
  const real = await openStore({ dataDir });
  const call = await real.calls.create({ tenantId: 'acme', direction: 'inbound', fromNumber: '+1', toNumber: '+2', startedAtMs: 1 });
  const other = new BetterSqlite3(join(dataDir, DATABASE_FILE_NAME), { readonly: true });
  const pageSize = other.pragma('page_size', { simple: true }) as number;
  const s = {
    batches: 0,
    store: {
      ...real,
      batch: <T>(fn: Parameters<Store['batch']>[0]) => {
        s.batches++;
        return real.batch(fn) as Promise<T>;
      },
    } as Store,
    callId: call.id,
    other,
    walFrames() {
      // WAL file: a 32-byte header, then frames of a 24-byte header and one page (sqlite.org/fileformat2.html).
      const size = statSync(join(dataDir, `${DATABASE_FILE_NAME}-wal`)).size;
      return Math.max(0, (size - 32) / (24 + pageSize));
    },
    async close() {
      other.close();
      await real.close();
    },
  };
  return s;
}

const turnRows = (db: BetterSqlite3.Database, callId: string) =>
  db.prepare('select seq, text, latency from turns where call_id = ? order by seq').all(callId) as { seq: number; text: string; latency: string }[];

test('writes queued in one event-loop turn are committed together, after the turn, in order', async () => {
  const s = await setup();
  try {
    const batcher = new WriteBatcher(s.store);
    const fail = (err: Error): void => assert.fail(err);
    const done: Promise<void>[] = [];
    const framesBefore = s.walFrames();
    for (let i = 0; i < 40; i++) {
      const id = `turn_${i}`;
      done.push(batcher.enqueue((r) => r.turns.insert({ id, callId: s.callId, seq: i, role: 'user', text: 'first', startedAtMs: i }), fail));
      done.push(batcher.enqueue((r) => r.turns.update(id, { text: `heard ${i}`, latency: { sttFinalMs: i } }), fail));
      done.push(batcher.enqueue((r) => r.turns.update(id, { latency: { endpointingMs: 600 } }), fail));
    }
    assert.equal(turnRows(s.other, s.callId).length, 0, 'nothing is committed during the turn that queued it');
    await Promise.all(done);
    const rows = turnRows(s.other, s.callId);
    assert.equal(rows.length, 40);
    assert.equal(rows[7]!.text, 'heard 7');
    assert.deepEqual(JSON.parse(rows[7]!.latency), { sttFinalMs: 7, endpointingMs: 600 }, 'the update that merges latency ran inside the batch');
    assert.equal(s.batches, 1, '120 writes, one batch');
    // One commit of the few pages the 40 rows share; 120 commits would append at least 120 frames.
    assert.ok(s.walFrames() - framesBefore < 20, `${s.walFrames() - framesBefore} WAL frames`);
  } finally {
    await s.close();
  }
});

test('a write that fails is reported alone; the rest of its batch is stored', async () => {
  const s = await setup();
  try {
    const batcher = new WriteBatcher(s.store);
    const errors: string[] = [];
    const report = (err: Error): void => {
      errors.push(err.message);
    };
    await Promise.all([
      batcher.enqueue((r) => r.turns.insert({ id: 't1', callId: s.callId, seq: 0, role: 'user', text: 'one', startedAtMs: 1 }), report),
      batcher.enqueue((r) => r.turns.insert({ id: 't2', callId: s.callId, seq: 0, role: 'agent', text: 'same seq', startedAtMs: 2 }), report),
      batcher.enqueue((r) => r.turns.insert({ id: 't3', callId: 'call_missing', seq: 0, role: 'user', text: 'no such call', startedAtMs: 3 }), report),
      batcher.enqueue((r) => r.turns.insert({ id: 't4', callId: s.callId, seq: 1, role: 'agent', text: 'two', startedAtMs: 4 }), report),
      batcher.enqueue((r) => r.events.append({ callId: s.callId, atMs: 5, type: 'after.failures' }), report),
    ]);
    assert.equal(errors.length, 2);
    assert.match(errors[0]!, /UNIQUE/);
    assert.match(errors[1]!, /FOREIGN KEY/);
    assert.deepEqual(
      turnRows(s.other, s.callId).map((r) => r.text),
      ['one', 'two'],
    );
    const call = await s.store.calls.get(s.callId);
    assert.deepEqual(
      call?.events.map((e) => e.type),
      ['after.failures'],
    );
  } finally {
    await s.close();
  }
});

test('a failed commit reports every write of the batch', async () => {
  let batches = 0;
  const batcher = new WriteBatcher({
    batch: async (fn) => {
      batches++;
      await fn({} as never);
      throw new Error('disk I/O error');
    },
  });
  const errors: string[] = [];
  await Promise.all([1, 2, 3].map(() => batcher.enqueue(async () => undefined, (err) => errors.push(err.message))));
  assert.equal(batches, 1);
  assert.deepEqual(errors, ['disk I/O error', 'disk I/O error', 'disk I/O error']);
});

test('writes queued while a batch runs form the next batch, applied after it', async () => {
  const s = await setup();
  try {
    const batcher = new WriteBatcher(s.store);
    const fail = (err: Error): void => assert.fail(err);
    const first = batcher.enqueue(async (r) => {
      await r.turns.insert({ id: 'a', callId: s.callId, seq: 0, role: 'user', text: 'a', startedAtMs: 1 });
      // Queued from inside the running batch: must wait for the next one, and still land after 'a'.
      void batcher.enqueue((r2) => r2.turns.update('a', { text: 'a, then updated' }), fail);
    }, fail);
    await first;
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(turnRows(s.other, s.callId)[0]?.text, 'a, then updated');
    assert.equal(s.batches, 2);
  } finally {
    await s.close();
  }
});
