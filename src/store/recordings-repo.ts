/**
 * Queries over the calls table's `recording` JSON column, for the retention sweep. Portable SQL
 * only (no json_extract): a recording counts as live when its JSON text has no `deletedAtMs` key,
 * which is how `JSON.stringify` of a CallRecording without it reads; rows are re-checked after parsing.
 */
import type { Kysely } from 'kysely';
import { fromJsonText, toMs, toMsOrNull } from './codec.js';
import { inTransaction } from './transaction.js';
import type { Database } from './schema.js';
import { LIVE_CALL_STATUSES, type CallRecording } from './types.js';

/** Matches recording JSON that carries a deletion time. */
const DELETED_PATTERN = '%"deletedAtMs"%';

/** A call's live recording, with what retention needs to judge its age. */
export interface StoredRecording {
  callId: string;
  tenantId: string;
  startedAtMs: number;
  endedAtMs: number | null;
  recording: CallRecording;
}

export interface RecordingsRepo {
  /** Ids of tenants that have at least one ended call with a live (not deleted) recording. */
  tenantsWithLiveRecordings(): Promise<string[]>;
  /**
   * A tenant's ended calls whose live recording is older than `beforeMs` (by endedAt, else
   * startedAt), oldest first, at most `limit` (1..1000, default 200).
   */
  listLiveOlderThan(tenantId: string, beforeMs: number, limit?: number): Promise<StoredRecording[]>;
  /**
   * Sets `recording.deletedAtMs` on a call, keeping the other recording fields.
   * @returns false when the call has no recording or it was already deleted.
   */
  markDeleted(callId: string, atMs: number): Promise<boolean>;
}

function parseRecording(text: string | null): CallRecording | undefined {
  if (text === null) return undefined;
  const r = fromJsonText<Partial<CallRecording>>(text);
  return typeof r.path === 'string' ? (r as CallRecording) : undefined;
}

export function createRecordingsRepo(db: Kysely<Database>): RecordingsRepo {
  const ended = () =>
    db
      .selectFrom('calls')
      .where('recording', 'is not', null)
      .where('recording', 'not like', DELETED_PATTERN)
      .where('status', 'not in', LIVE_CALL_STATUSES);

  return {
    async tenantsWithLiveRecordings() {
      const rows = await ended().select('tenant_id').distinct().execute();
      return rows.map((r) => r.tenant_id);
    },

    async listLiveOlderThan(tenantId, beforeMs, limit = 200) {
      const n = Math.min(Math.max(Math.trunc(limit), 1), 1000);
      const rows = await ended()
        .select(['id', 'tenant_id', 'started_at_ms', 'ended_at_ms', 'recording'])
        .where('tenant_id', '=', tenantId)
        .where((eb) => eb(eb.fn.coalesce('ended_at_ms', 'started_at_ms'), '<', beforeMs))
        .orderBy((eb) => eb.fn.coalesce('ended_at_ms', 'started_at_ms'))
        .orderBy('id')
        .limit(n)
        .execute();
      const out: StoredRecording[] = [];
      for (const r of rows) {
        const recording = parseRecording(r.recording);
        if (recording === undefined || recording.deletedAtMs !== undefined) continue;
        out.push({ callId: r.id, tenantId: r.tenant_id, startedAtMs: toMs(r.started_at_ms), endedAtMs: toMsOrNull(r.ended_at_ms), recording });
      }
      return out;
    },

    async markDeleted(callId, atMs) {
      return inTransaction(db, async (trx) => {
        const row = await trx.selectFrom('calls').select('recording').where('id', '=', callId).executeTakeFirst();
        const recording = parseRecording(row?.recording ?? null);
        if (recording === undefined || recording.deletedAtMs !== undefined) return false;
        const next: CallRecording = { ...recording, deletedAtMs: atMs };
        await trx.updateTable('calls').set({ recording: JSON.stringify(next) }).where('id', '=', callId).execute();
        return true;
      });
    },
  };
}
