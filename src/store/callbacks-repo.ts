import { randomUUID } from 'node:crypto';
import type { Kysely, Selectable } from 'kysely';
import { fromJsonText, toMs } from './codec.js';
import type { CallbacksTable, Database } from './schema.js';
import { inTransaction } from './transaction.js';
import type { CallbackRow, CallbackStatus } from './types.js';

export interface NewCallback {
  tenantId: string;
  agentId: string;
  toNumber: string;
  fromNumber?: string | null;
  dueAtMs: number;
  reason?: string;
  variables?: Record<string, string>;
  sourceCallId?: string | null;
  nowMs: number;
}

/** Callbacks promised to callers: stored, then placed as outbound calls when due. */
export interface CallbacksRepo {
  create(c: NewCallback): Promise<CallbackRow>;
  /** Atomically moves due `scheduled` callbacks to `placing` and returns them (one instance wins each). */
  claimDue(nowMs: number, limit: number): Promise<CallbackRow[]>;
  finish(id: string, o: { status: Extract<CallbackStatus, 'placed' | 'failed' | 'scheduled'>; placedCallId?: string | null; error?: string | null; dueAtMs?: number; nowMs: number }): Promise<void>;
  cancel(tenantId: string | undefined, id: string, nowMs: number): Promise<boolean>;
  get(id: string, scope?: { tenantId?: string }): Promise<CallbackRow | undefined>;
  list(q: { tenantId?: string; status?: CallbackStatus; limit?: number }): Promise<CallbackRow[]>;
  /** `placing` rows left by a crash go back to `scheduled` (run at start-up). */
  releaseStale(nowMs: number): Promise<number>;
}

function toRow(r: Selectable<CallbacksTable>): CallbackRow {
  return {
    id: r.id,
    tenantId: r.tenant_id,
    agentId: r.agent_id,
    toNumber: r.to_number,
    fromNumber: r.from_number,
    dueAtMs: toMs(r.due_at_ms),
    reason: r.reason,
    variables: fromJsonText(r.variables),
    status: r.status as CallbackStatus,
    sourceCallId: r.source_call_id,
    placedCallId: r.placed_call_id,
    error: r.error,
    createdAtMs: toMs(r.created_at_ms),
    updatedAtMs: toMs(r.updated_at_ms),
  };
}

export function createCallbacksRepo(db: Kysely<Database>): CallbacksRepo {
  const repo: CallbacksRepo = {
    async create(c) {
      const id = `cb_${randomUUID().replaceAll('-', '')}`;
      await db
        .insertInto('callbacks')
        .values({
          id,
          tenant_id: c.tenantId,
          agent_id: c.agentId,
          to_number: c.toNumber,
          from_number: c.fromNumber ?? null,
          due_at_ms: c.dueAtMs,
          reason: c.reason ?? '',
          variables: JSON.stringify(c.variables ?? {}),
          status: 'scheduled',
          source_call_id: c.sourceCallId ?? null,
          created_at_ms: c.nowMs,
          updated_at_ms: c.nowMs,
        })
        .execute();
      return (await repo.get(id)) as CallbackRow;
    },
    async claimDue(nowMs, limit) {
      return inTransaction(db, async (trx) => {
        const rows = await trx
          .selectFrom('callbacks')
          .selectAll()
          .where('status', '=', 'scheduled')
          .where('due_at_ms', '<=', nowMs)
          .orderBy('due_at_ms')
          .limit(limit)
          .execute();
        const claimed: CallbackRow[] = [];
        for (const r of rows) {
          const u = await trx
            .updateTable('callbacks')
            .set({ status: 'placing', updated_at_ms: nowMs })
            .where('id', '=', r.id)
            .where('status', '=', 'scheduled')
            .executeTakeFirst();
          if (Number(u.numUpdatedRows) === 1) claimed.push({ ...toRow(r), status: 'placing', updatedAtMs: nowMs });
        }
        return claimed;
      });
    },
    async finish(id, o) {
      await db
        .updateTable('callbacks')
        .set({
          status: o.status,
          placed_call_id: o.placedCallId ?? null,
          error: o.error ?? null,
          updated_at_ms: o.nowMs,
          ...(o.dueAtMs !== undefined ? { due_at_ms: o.dueAtMs } : {}),
        })
        .where('id', '=', id)
        .execute();
    },
    async cancel(tenantId, id, nowMs) {
      let q = db.updateTable('callbacks').set({ status: 'canceled', updated_at_ms: nowMs }).where('id', '=', id).where('status', '=', 'scheduled');
      if (tenantId !== undefined) q = q.where('tenant_id', '=', tenantId);
      const r = await q.executeTakeFirst();
      return Number(r.numUpdatedRows) === 1;
    },
    async get(id, scope) {
      let q = db.selectFrom('callbacks').selectAll().where('id', '=', id);
      if (scope?.tenantId !== undefined) q = q.where('tenant_id', '=', scope.tenantId);
      const r = await q.executeTakeFirst();
      return r === undefined ? undefined : toRow(r);
    },
    async list(q) {
      let query = db.selectFrom('callbacks').selectAll();
      if (q.tenantId !== undefined) query = query.where('tenant_id', '=', q.tenantId);
      if (q.status !== undefined) query = query.where('status', '=', q.status);
      const rows = await query.orderBy('due_at_ms', 'desc').limit(Math.min(Math.max(q.limit ?? 50, 1), 200)).execute();
      return rows.map(toRow);
    },
    async releaseStale(nowMs) {
      const r = await db.updateTable('callbacks').set({ status: 'scheduled', updated_at_ms: nowMs }).where('status', '=', 'placing').executeTakeFirst();
      return Number(r.numUpdatedRows);
    },
  };
  return repo;
}
