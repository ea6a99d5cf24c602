/**
 * The store facade: the only thing the rest of Parley imports for persistence.
 * Every write goes to the database as it happens, so a crash mid-call loses nothing already written.
 */
import type { Kysely } from 'kysely';
import { createCallsRepo, type CallsRepo } from './calls-repo.js';
import { closeDatabase, type DatabaseOptions, openDatabase } from './database.js';
import { createEventsRepo, type EventsRepo } from './events-repo.js';
import { migrateToLatest } from './migrations/index.js';
import type { Database } from './schema.js';
import { createTurnsRepo, type TurnsRepo } from './turns-repo.js';
import { createTenantsRepo, type TenantsRepo } from './tenants-repo.js';
import { createApiKeysRepo, type ApiKeysRepo } from './api-keys-repo.js';
import { createDocumentsRepo, type DocumentsRepo } from './documents-repo.js';
import { createDeliveriesRepo, type DeliveriesRepo } from './deliveries-repo.js';
import { createCallbacksRepo, type CallbacksRepo } from './callbacks-repo.js';
import { createRecordingsRepo, type RecordingsRepo } from './recordings-repo.js';

export type * from './types.js';
export { CALL_STATUSES, LIVE_CALL_STATUSES, CALLBACK_STATUSES, DELIVERY_STATUSES } from './types.js';
export { newCallId, newTurnId } from './ids.js';
export { decodeCursor } from './codec.js';
export { CLOSED_ON_RESTART_EVENT, LIST_LIMIT_DEFAULT, LIST_LIMIT_MAX } from './calls-repo.js';
export type { CallsRepo, TurnsRepo, EventsRepo, TenantsRepo, ApiKeysRepo, DocumentsRepo, DeliveriesRepo, CallbacksRepo, RecordingsRepo };
export type { NewDelivery } from './deliveries-repo.js';
export type { NewCallback } from './callbacks-repo.js';

export interface Store {
  calls: CallsRepo;
  turns: TurnsRepo;
  events: EventsRepo;
  tenants: TenantsRepo;
  apiKeys: ApiKeysRepo;
  documents: DocumentsRepo;
  deliveries: DeliveriesRepo;
  callbacks: CallbacksRepo;
  recordings: RecordingsRepo;
  /**
   * Runs `fn` in one transaction, with repositories bound to it: everything it writes commits
   * together, or nothing does when it throws. A repository method that makes its own transaction
   * joins this one.
   */
  batch<T>(fn: (repos: StoreRepos) => Promise<T>): Promise<T>;
  /** Closes the database. Idempotent. */
  close(): Promise<void>;
}

/** The repositories of a store, without its lifecycle (what a batch works with). */
export type StoreRepos = Omit<Store, 'batch' | 'close'>;

export interface OpenStoreOptions extends DatabaseOptions {
  /** Directory holding `parley.db`; created if missing. */
  dataDir: string;
}

/** Opens (creating if needed) the database in `dataDir`, migrates it to the latest schema, and returns the store. */
export async function openStore(o: OpenStoreOptions): Promise<Store> {
  const db = openDatabase(o.dataDir, o);
  try {
    await migrateToLatest(db);
  } catch (err) {
    await closeDatabase(db);
    throw err;
  }
  return createStore(db);
}

/** Builds the facade over an already-migrated Kysely instance (any dialect). */
export function createStore(db: Kysely<Database>): Store {
  let closed: Promise<void> | undefined;
  return {
    ...createRepos(db),
    batch: (fn) => db.transaction().execute((trx) => fn(createRepos(trx))),
    close: () => (closed ??= closeDatabase(db)),
  };
}

function createRepos(db: Kysely<Database>): StoreRepos {
  return {
    calls: createCallsRepo(db),
    turns: createTurnsRepo(db),
    events: createEventsRepo(db),
    tenants: createTenantsRepo(db),
    apiKeys: createApiKeysRepo(db),
    documents: createDocumentsRepo(db),
    deliveries: createDeliveriesRepo(db),
    callbacks: createCallbacksRepo(db),
    recordings: createRecordingsRepo(db),
  };
}
