import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { spawnSync } from 'node:child_process';
import BetterSqlite3 from 'better-sqlite3';
import { sql } from 'kysely';
import { openDatabase } from './database.js';
import { migrateToLatest } from './migrations/index.js';
import { CLOSED_ON_RESTART_EVENT, openStore, type NewCall, type Store } from './store.js';

let root: string;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'parley-store-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

let dirSeq = 0;
async function freshStore(): Promise<{ store: Store; dataDir: string }> {
  const dataDir = join(root, `db-${dirSeq++}`, 'nested');
  return { store: await openStore({ dataDir }), dataDir };
}

function newCall(over: Partial<NewCall> = {}): NewCall {
  return {
    tenantId: 'acme',
    direction: 'inbound',
    fromNumber: '+15550001111',
    toNumber: '+15550002222',
    startedAtMs: 1_700_000_000_000,
    carrierCallSid: 'CA' + Math.random().toString(16).slice(2),
    ...over,
  };
}

describe('store', () => {
  test('creates the data dir and configures SQLite for WAL, NORMAL sync and foreign keys', async () => {
    const { store, dataDir } = await freshStore();
    await store.close();
    const raw = new BetterSqlite3(join(dataDir, 'parley.db'));
    try {
      assert.equal(raw.pragma('journal_mode', { simple: true }), 'wal');
      const tables = raw.prepare("select name from sqlite_master where type='table' order by name").pluck().all();
      assert.ok(tables.includes('calls') && tables.includes('turns') && tables.includes('call_events'));
    } finally {
      raw.close();
    }
  });

  test('enforces the call foreign key on turns', async () => {
    const { store } = await freshStore();
    try {
      await assert.rejects(
        store.turns.insert({ id: 't1', callId: 'call_missing', seq: 0, role: 'user', startedAtMs: 1 }),
        /FOREIGN KEY/,
      );
    } finally {
      await store.close();
    }
  });

  test('create returns the stored row with generated id and defaults', async () => {
    const { store } = await freshStore();
    try {
      const row = await store.calls.create(newCall({ metadata: { custom: { plan: 'gold' } } }));
      assert.match(row.id, /^call_[0-9a-f]{32}$/);
      assert.equal(row.status, 'in_progress');
      assert.equal(row.carrier, 'twilio');
      const got = await store.calls.get(row.id);
      assert.ok(got);
      const { turns, events, ...callOnly } = got;
      assert.deepEqual(callOnly, row);
      assert.deepEqual(turns, []);
      assert.deepEqual(events, []);
    } finally {
      await store.close();
    }
  });

  test('update patches only given fields and end is a no-op once the call has ended', async () => {
    const { store } = await freshStore();
    try {
      const { id } = await store.calls.create(newCall());
      await store.calls.update(id, { streamSid: 'MZ1', answeredAtMs: 1_700_000_000_500, agentId: 'support', metadata: { slot: 1 } });
      await store.calls.end(id, { status: 'completed', endReason: 'caller_hangup', endedAtMs: 1_700_000_060_000 });
      await store.calls.end(id, { status: 'failed', endReason: 'stream_error', endedAtMs: 1_700_000_099_000 });
      const got = await store.calls.get(id);
      assert.ok(got);
      assert.equal(got.streamSid, 'MZ1');
      assert.equal(got.answeredAtMs, 1_700_000_000_500);
      assert.equal(got.agentId, 'support');
      assert.deepEqual(got.metadata, { slot: 1 });
      assert.equal(got.status, 'completed');
      assert.equal(got.endReason, 'caller_hangup');
      assert.equal(got.endedAtMs, 1_700_000_060_000);
      assert.equal(got.fromNumber, '+15550001111');
    } finally {
      await store.close();
    }
  });

  test('turns come back ordered by seq, with latency merged across updates', async () => {
    const { store } = await freshStore();
    try {
      const { id: callId } = await store.calls.create(newCall());
      // Inserted out of order on purpose.
      await store.turns.insert({ id: 't2', callId, seq: 2, role: 'user', text: 'bye', startedAtMs: 30 });
      await store.turns.insert({ id: 't0', callId, seq: 0, role: 'agent', text: 'hello', startedAtMs: 10, endedAtMs: 12 });
      await store.turns.insert({ id: 't1', callId, seq: 1, role: 'user', startedAtMs: 20, latency: { endpointingMs: 200 } });
      await store.turns.update('t1', { text: 'I need help', latency: { sttFinalMs: 90 } });
      await store.turns.update('t1', { endedAtMs: 25, interrupted: true, latency: { voiceToVoiceMs: 800 } });
      const got = await store.calls.get(callId);
      assert.ok(got);
      assert.deepEqual(
        got.turns.map((t) => [t.seq, t.id, t.role, t.text]),
        [
          [0, 't0', 'agent', 'hello'],
          [1, 't1', 'user', 'I need help'],
          [2, 't2', 'user', 'bye'],
        ],
      );
      const t1 = got.turns[1];
      assert.ok(t1);
      assert.equal(t1.interrupted, true);
      assert.equal(t1.endedAtMs, 25);
      assert.deepEqual(t1.latency, { endpointingMs: 200, sttFinalMs: 90, voiceToVoiceMs: 800 });
      assert.equal(got.turns[0]?.interrupted, false);
    } finally {
      await store.close();
    }
  });

  test('rejects a second turn with the same seq in a call', async () => {
    const { store } = await freshStore();
    try {
      const { id: callId } = await store.calls.create(newCall());
      await store.turns.insert({ id: 'a', callId, seq: 0, role: 'user', startedAtMs: 1 });
      await assert.rejects(store.turns.insert({ id: 'b', callId, seq: 0, role: 'agent', startedAtMs: 2 }), /UNIQUE/);
    } finally {
      await store.close();
    }
  });

  test('events come back in time order, insertion order breaking ties, with their data', async () => {
    const { store } = await freshStore();
    try {
      const { id: callId } = await store.calls.create(newCall());
      await store.events.append({ callId, atMs: 200, type: 'tool.called', data: { name: 'lookup' } });
      await store.events.append({ callId, atMs: 100, type: 'stream.started' });
      await store.events.append({ callId, atMs: 200, type: 'tool.result', data: { ok: true } });
      const got = await store.calls.get(callId);
      assert.ok(got);
      assert.deepEqual(
        got.events.map((e) => [e.atMs, e.type, e.data]),
        [
          [100, 'stream.started', {}],
          [200, 'tool.called', { name: 'lookup' }],
          [200, 'tool.result', { ok: true }],
        ],
      );
    } finally {
      await store.close();
    }
  });

  test('get finds a call by carrier sid and hides other tenants\' calls under a scope', async () => {
    const { store } = await freshStore();
    try {
      const row = await store.calls.create(newCall({ carrierCallSid: 'CAabc123' }));
      assert.equal((await store.calls.get('CAabc123'))?.id, row.id);
      assert.equal((await store.calls.get('CAabc123', { tenantId: 'acme' }))?.id, row.id);
      assert.equal(await store.calls.get('CAabc123', { tenantId: 'other' }), undefined);
      assert.equal(await store.calls.get(row.id, { tenantId: 'other' }), undefined);
      assert.equal(await store.calls.get('nope'), undefined);
    } finally {
      await store.close();
    }
  });

  test('list pages newest first through the cursor without gaps or repeats, with filters', async () => {
    const { store } = await freshStore();
    try {
      const ids: string[] = [];
      for (let i = 0; i < 7; i++) {
        // Two calls share a start time to exercise the id tie-breaker.
        const startedAtMs = 1_000 + Math.floor(i / 2) * 10;
        ids.push((await store.calls.create(newCall({ id: `call_${i}`, startedAtMs, tenantId: i % 3 === 0 ? 'other' : 'acme' }))).id);
      }
      await store.calls.end('call_6', { status: 'failed', endReason: 'stream_error', endedAtMs: 2_000 });

      const seen: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await store.calls.list({ limit: 3, before: cursor });
        seen.push(...page.calls.map((c) => c.id));
        cursor = page.nextCursor;
        pages++;
      } while (cursor !== undefined);
      assert.equal(pages, 3);
      assert.deepEqual(seen, ['call_6', 'call_5', 'call_4', 'call_3', 'call_2', 'call_1', 'call_0']);

      const acme = await store.calls.list({ tenantId: 'acme', limit: 50 });
      assert.deepEqual(acme.calls.map((c) => c.id), ['call_5', 'call_4', 'call_2', 'call_1']);
      assert.equal(acme.nextCursor, undefined);

      const failed = await store.calls.list({ status: 'failed' });
      assert.deepEqual(failed.calls.map((c) => c.id), ['call_6']);

      await assert.rejects(store.calls.list({ before: 'garbage' }), /cursor/);
    } finally {
      await store.close();
    }
  });

  test('data written before a hard kill survives; closeAbandoned ends in-progress calls with an event on each', async () => {
    const dataDir = join(root, `db-${dirSeq++}`);
    // A child process writes a live call, a turn and an event, then SIGKILLs itself: no end(), no close().
    const storeUrl = new URL('./store.ts', import.meta.url).href;
    const script = `
      const { openStore } = await import(${JSON.stringify(storeUrl)});
      const s = await openStore({ dataDir: ${JSON.stringify(dataDir)} });
      const live1 = await s.calls.create({ id: 'call_live1', tenantId: 'acme', direction: 'inbound', fromNumber: 'a', toNumber: 'b', startedAtMs: 1 });
      await s.calls.create({ id: 'call_live2', tenantId: 'acme', direction: 'outbound', fromNumber: 'a', toNumber: 'b', startedAtMs: 2 });
      await s.calls.create({ id: 'call_done', tenantId: 'acme', direction: 'inbound', fromNumber: 'a', toNumber: 'b', startedAtMs: 3 });
      await s.calls.end('call_done', { status: 'completed', endReason: 'agent_hangup', endedAtMs: 5 });
      await s.turns.insert({ id: 'tx', callId: live1.id, seq: 0, role: 'user', text: 'mid-sentence', startedAtMs: 1 });
      await s.events.append({ callId: live1.id, atMs: 2, type: 'stream.started' });
      process.kill(process.pid, 'SIGKILL');
    `;
    const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' });
    assert.equal(child.signal, 'SIGKILL', child.stderr);

    const reopened = await openStore({ dataDir });
    try {
      const before = await reopened.calls.get('call_live1');
      assert.equal(before?.status, 'in_progress');
      assert.equal(before?.turns[0]?.text, 'mid-sentence');
      assert.equal(before?.events[0]?.type, 'stream.started');

      assert.equal(await reopened.calls.closeAbandoned(9_999), 2);
      for (const id of ['call_live1', 'call_live2']) {
        const c = await reopened.calls.get(id);
        assert.equal(c?.status, 'ended_abnormally');
        assert.equal(c?.endReason, 'server_restart');
        assert.equal(c?.endedAtMs, 9_999);
        assert.equal(c?.events.at(-1)?.type, CLOSED_ON_RESTART_EVENT);
      }
      const untouched = await reopened.calls.get('call_done');
      assert.equal(untouched?.status, 'completed');
      assert.equal(untouched?.events.length, 0);
      assert.equal(await reopened.calls.closeAbandoned(10_000), 0);
    } finally {
      await reopened.close();
    }
  });

  test('migrations apply once: a second run on the same database applies nothing', async () => {
    const dataDir = join(root, `db-${dirSeq++}`);
    const db1 = openDatabase(dataDir);
    assert.deepEqual(await migrateToLatest(db1), ['0001-calls', '0002-platform']);
    // Per-connection pragmas, checked on the connection the store would use (1 = NORMAL).
    const sync = await sql<{ synchronous: number }>`pragma synchronous`.execute(db1);
    assert.equal(sync.rows[0]?.synchronous, 1);
    const fk = await sql<{ foreign_keys: number }>`pragma foreign_keys`.execute(db1);
    assert.equal(fk.rows[0]?.foreign_keys, 1);
    await db1.destroy();
    const db2 = openDatabase(dataDir);
    assert.deepEqual(await migrateToLatest(db2), []);
    await db2.destroy();
  });

  test('close is idempotent', async () => {
    const { store } = await freshStore();
    await store.close();
    await store.close();
  });
});
