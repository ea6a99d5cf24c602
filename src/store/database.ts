/**
 * Opens the SQLite database behind the store. The only SQLite-specific module: a Postgres
 * dialect would replace this file and leave repositories and callers untouched.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import { type Checkpointer, startCheckpointer } from './checkpointer.js';
import type { Database } from './schema.js';

/** How long a writer waits on a locked database before failing (ms). */
const BUSY_TIMEOUT_MS = 5_000;

/** File name of the database inside the data directory. */
export const DATABASE_FILE_NAME = 'parley.db';

/** How openDatabase sets the connection up beyond its fixed pragmas. */
export interface DatabaseOptions {
  /**
   * Checkpoint the WAL on a worker thread (checkpointer.ts) instead of on the connection that
   * commits: for the server, whose event loop carries live audio. Off by default.
   */
  readonly checkpointInWorker?: boolean;
  /** Hears a failure of the checkpoint worker (the connection then checkpoints itself again). */
  readonly onCheckpointError?: (message: string) => void;
}

/**
 * Creates `dataDir` if needed and opens `${dataDir}/parley.db` with:
 * WAL (readers don't block the writer), synchronous=NORMAL (durable across process crashes,
 * which is what a call in flight needs; only an OS crash can lose the last commits),
 * foreign keys on, and a busy timeout; WAL checkpoints on a worker thread when asked.
 */
export function openDatabase(dataDir: string, o: DatabaseOptions = {}): Kysely<Database> {
  mkdirSync(dataDir, { recursive: true });
  const sqlite = new BetterSqlite3(join(dataDir, DATABASE_FILE_NAME));
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
  cachePreparedStatements(sqlite);
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });
  if (o.checkpointInWorker === true) checkpointers.set(db, startCheckpointer(sqlite, { onError: o.onCheckpointError }));
  return db;
}

const checkpointers = new WeakMap<Kysely<Database>, Checkpointer>();

/** Closes a database opened by openDatabase (or any Kysely instance): its checkpoint worker first, if any. */
export async function closeDatabase(db: Kysely<Database>): Promise<void> {
  await checkpointers.get(db)?.stop();
  await db.destroy();
}

/** Distinct SQL texts kept prepared; Parley issues a few dozen, so this never evicts in practice. */
const STATEMENT_CACHE_SIZE = 256;

/**
 * Kysely prepares a statement for every query; preparing costs more than running the small
 * writes a call makes several times a second. Statements are reused by SQL text — except one
 * still busy (an open iterator), which gets a fresh one.
 */
function cachePreparedStatements(sqlite: BetterSqlite3.Database): void {
  const prepare = sqlite.prepare.bind(sqlite);
  const cache = new Map<string, BetterSqlite3.Statement>();
  sqlite.prepare = ((source: string) => {
    const cached = cache.get(source);
    if (cached && !cached.busy) return cached;
    const statement = prepare(source);
    if (!cached && cache.size < STATEMENT_CACHE_SIZE) cache.set(source, statement);
    return statement;
  }) as typeof sqlite.prepare;
}
