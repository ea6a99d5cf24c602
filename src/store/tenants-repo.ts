import type { Kysely, Selectable } from 'kysely';
import { fromJsonText, toMs } from './codec.js';
import type { Database, TenantsTable } from './schema.js';
import type { StoredTenant } from './types.js';

/** Tenants created through the API. File-defined tenants are never stored here. */
export interface TenantsRepo {
  list(): Promise<StoredTenant[]>;
  get(id: string): Promise<StoredTenant | undefined>;
  /** Inserts; false when the id exists. */
  create(id: string, document: Record<string, unknown>, nowMs: number): Promise<boolean>;
  /** Replaces the document; false when the id does not exist. */
  replace(id: string, document: Record<string, unknown>, nowMs: number): Promise<boolean>;
  delete(id: string): Promise<boolean>;
}

function toStored(r: Selectable<TenantsTable>): StoredTenant {
  return { id: r.id, document: fromJsonText(r.document), createdAtMs: toMs(r.created_at_ms), updatedAtMs: toMs(r.updated_at_ms) };
}

export function createTenantsRepo(db: Kysely<Database>): TenantsRepo {
  return {
    async list() {
      return (await db.selectFrom('tenants').selectAll().orderBy('id').execute()).map(toStored);
    },
    async get(id) {
      const r = await db.selectFrom('tenants').selectAll().where('id', '=', id).executeTakeFirst();
      return r === undefined ? undefined : toStored(r);
    },
    async create(id, document, nowMs) {
      const r = await db
        .insertInto('tenants')
        .values({ id, document: JSON.stringify(document), created_at_ms: nowMs, updated_at_ms: nowMs })
        .onConflict((oc) => oc.column('id').doNothing())
        .executeTakeFirst();
      return Number(r.numInsertedOrUpdatedRows ?? 0) === 1;
    },
    async replace(id, document, nowMs) {
      const r = await db.updateTable('tenants').set({ document: JSON.stringify(document), updated_at_ms: nowMs }).where('id', '=', id).executeTakeFirst();
      return Number(r.numUpdatedRows) === 1;
    },
    async delete(id) {
      const r = await db.deleteFrom('tenants').where('id', '=', id).executeTakeFirst();
      return Number(r.numDeletedRows) === 1;
    },
  };
}
