/**
 * In-code migration list. Explicit imports instead of directory scanning so the same code
 * works under tsx (.ts) and from compiled dist (.js). Add new migrations here; names sort
 * lexicographically and define the order, so keep the zero-padded prefix.
 */
import type { Kysely, Migration, MigrationProvider, MigrationResult } from 'kysely';
import { Migrator } from 'kysely';
import { migration0001Calls } from './0001-calls.js';
import { migration0002Platform } from './0002-platform.js';

/** All migrations, keyed by name. */
export const migrations: Readonly<Record<string, Migration>> = {
  '0001-calls': migration0001Calls,
  '0002-platform': migration0002Platform,
};

/** Kysely provider serving {@link migrations}. */
export const inCodeMigrationProvider: MigrationProvider = {
  getMigrations: async () => ({ ...migrations }),
};

/**
 * Runs all pending migrations. Throws (with the failing migration's error as `cause`) if any fails.
 * @returns names of the migrations applied by this call.
 */
export async function migrateToLatest(db: Kysely<any>): Promise<string[]> {
  const migrator = new Migrator({ db, provider: inCodeMigrationProvider });
  const { error, results } = await migrator.migrateToLatest();
  if (error !== undefined) {
    const failed = results?.find((r: MigrationResult) => r.status === 'Error')?.migrationName ?? 'unknown';
    throw new Error(`database migration failed (${failed})`, { cause: error });
  }
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
