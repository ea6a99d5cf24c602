import { randomUUID } from 'node:crypto';
import type { Kysely, Selectable } from 'kysely';
import { toMs, toMsOrNull } from './codec.js';
import type { ApiKeysTable, Database } from './schema.js';
import type { ApiKeyRow } from './types.js';

/** Tenant API keys. Only a key's SHA-256 digest is stored; the key itself is shown once at creation. */
export interface ApiKeysRepo {
  create(k: { tenantId: string; name: string; prefix: string; keySha256Hex: string; nowMs: number }): Promise<ApiKeyRow>;
  /** The active (not revoked) key with this digest. */
  findActiveByDigest(keySha256Hex: string): Promise<ApiKeyRow | undefined>;
  list(tenantId: string): Promise<ApiKeyRow[]>;
  /** Revokes a tenant's key; false when it does not exist for that tenant or was already revoked. */
  revoke(tenantId: string, id: string, nowMs: number): Promise<boolean>;
  touch(id: string, nowMs: number): Promise<void>;
}

function toRow(r: Selectable<ApiKeysTable>): ApiKeyRow {
  return {
    id: r.id,
    tenantId: r.tenant_id,
    name: r.name,
    prefix: r.prefix,
    createdAtMs: toMs(r.created_at_ms),
    lastUsedAtMs: toMsOrNull(r.last_used_at_ms),
    revokedAtMs: toMsOrNull(r.revoked_at_ms),
  };
}

export function createApiKeysRepo(db: Kysely<Database>): ApiKeysRepo {
  return {
    async create(k) {
      const id = `key_${randomUUID().replaceAll('-', '')}`;
      await db
        .insertInto('api_keys')
        .values({ id, tenant_id: k.tenantId, name: k.name, prefix: k.prefix, key_sha256: k.keySha256Hex, created_at_ms: k.nowMs })
        .execute();
      return { id, tenantId: k.tenantId, name: k.name, prefix: k.prefix, createdAtMs: k.nowMs, lastUsedAtMs: null, revokedAtMs: null };
    },
    async findActiveByDigest(digest) {
      const r = await db.selectFrom('api_keys').selectAll().where('key_sha256', '=', digest).where('revoked_at_ms', 'is', null).executeTakeFirst();
      return r === undefined ? undefined : toRow(r);
    },
    async list(tenantId) {
      return (await db.selectFrom('api_keys').selectAll().where('tenant_id', '=', tenantId).orderBy('created_at_ms', 'desc').execute()).map(toRow);
    },
    async revoke(tenantId, id, nowMs) {
      const r = await db
        .updateTable('api_keys')
        .set({ revoked_at_ms: nowMs })
        .where('id', '=', id)
        .where('tenant_id', '=', tenantId)
        .where('revoked_at_ms', 'is', null)
        .executeTakeFirst();
      return Number(r.numUpdatedRows) === 1;
    },
    async touch(id, nowMs) {
      await db.updateTable('api_keys').set({ last_used_at_ms: nowMs }).where('id', '=', id).execute();
    },
  };
}
