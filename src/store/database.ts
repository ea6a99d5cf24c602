/**
 * Opens the SQLite database behind the store. The only SQLite-specific module: a Postgres
 * dialect would replace this file and leave repositories and callers untouched.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import type { Database } from './schema.js';

/** How long a writer waits on a locked database before failing (ms). */
const BUSY_TIMEOUT_MS = 5_000;

/** File name of the database inside the data directory. */
export const DATABASE_FILE_NAME = 'parley.db';

/**
 * Creates `dataDir` if needed and opens `${dataDir}/parley.db` with:
 * WAL (readers don't block the writer), synchronous=NORMAL (durable across process crashes,
 * which is what a call in flight needs; only an OS crash can lose the last commits),
 * foreign keys on, and a busy timeout.
 */
export function openDatabase(dataDir: string): Kysely<Database> {
  mkdirSync(dataDir, { recursive: true });
  const sqlite = new BetterSqlite3(join(dataDir, DATABASE_FILE_NAME));
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
  return new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });
}
