import type { Kysely, Updateable } from 'kysely';
import { fromJsonText, toJsonText, toMs, toMsOrNull } from './codec.js';
import { inTransaction } from './transaction.js';
import type { Database, TurnsTable } from './schema.js';
import type { NewTurn, TurnLatency, TurnPatch, TurnRow } from './types.js';

/** Turns of a call ordered by seq. */
export async function listTurns(db: Kysely<Database>, callId: string): Promise<TurnRow[]> {
  const rows = await db.selectFrom('turns').selectAll().where('call_id', '=', callId).orderBy('seq', 'asc').execute();
  return rows.map((r) => ({
    id: r.id,
    callId: r.call_id,
    seq: Number(r.seq),
    role: r.role as TurnRow['role'],
    text: r.text,
    startedAtMs: toMs(r.started_at_ms),
    endedAtMs: toMsOrNull(r.ended_at_ms),
    interrupted: Number(r.interrupted) === 1,
    latency: fromJsonText<TurnLatency>(r.latency),
  }));
}

/** Repository of conversation turns. */
export interface TurnsRepo {
  /**
   * Inserts a turn as soon as it starts (or ends); rejects if (callId, seq) already exists
   * or the call does not exist.
   */
  insert(t: NewTurn): Promise<void>;
  /**
   * Updates a turn. `latency` is merged key by key into the stored breakdown, because stages
   * finish at different times (endpointing first, TTS audio last); other fields replace.
   * Unknown ids are a no-op.
   */
  update(id: string, patch: TurnPatch): Promise<void>;
}

export function createTurnsRepo(db: Kysely<Database>): TurnsRepo {
  return {
    async insert(t) {
      await db
        .insertInto('turns')
        .values({
          id: t.id,
          call_id: t.callId,
          seq: t.seq,
          role: t.role,
          text: t.text ?? '',
          started_at_ms: t.startedAtMs,
          ended_at_ms: t.endedAtMs ?? null,
          interrupted: t.interrupted === true ? 1 : 0,
          latency: toJsonText(t.latency as Record<string, unknown> | undefined),
        })
        .execute();
    },

    async update(id, patch) {
      const set: Updateable<TurnsTable> = {};
      if (patch.text !== undefined) set.text = patch.text;
      if (patch.endedAtMs !== undefined) set.ended_at_ms = patch.endedAtMs;
      if (patch.interrupted !== undefined) set.interrupted = patch.interrupted ? 1 : 0;
      if (patch.latency === undefined) {
        if (Object.keys(set).length === 0) return;
        await db.updateTable('turns').set(set).where('id', '=', id).execute();
        return;
      }
      const latencyPatch = patch.latency;
      // Read-merge-write in one transaction so concurrent stage updates don't drop each other.
      await inTransaction(db, async (trx) => {
        const row = await trx.selectFrom('turns').select('latency').where('id', '=', id).executeTakeFirst();
        if (row === undefined) return;
        const merged: TurnLatency = { ...fromJsonText<TurnLatency>(row.latency), ...dropUndefined(latencyPatch) };
        set.latency = toJsonText(merged as Record<string, unknown>);
        await trx.updateTable('turns').set(set).where('id', '=', id).execute();
      });
    },
  };
}

function dropUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
