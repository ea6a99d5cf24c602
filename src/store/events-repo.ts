import type { Kysely } from 'kysely';
import { fromJsonText, toJsonText, toMs } from './codec.js';
import type { Database } from './schema.js';
import type { CallEventRow, NewCallEvent } from './types.js';

/** Appends one call event. Takes a Kysely instance or a transaction. */
export async function appendEvent(db: Kysely<Database>, e: NewCallEvent): Promise<void> {
  await db
    .insertInto('call_events')
    .values({ call_id: e.callId, at_ms: e.atMs, type: e.type, data: toJsonText(e.data) })
    .execute();
}

/** Events of a call ordered by time, then insertion order (ids are monotonic). */
export async function listEvents(db: Kysely<Database>, callId: string): Promise<CallEventRow[]> {
  const rows = await db
    .selectFrom('call_events')
    .selectAll()
    .where('call_id', '=', callId)
    .orderBy('at_ms', 'asc')
    .orderBy('id', 'asc')
    .execute();
  return rows.map((r) => ({
    id: Number(r.id),
    callId: r.call_id,
    atMs: toMs(r.at_ms),
    type: r.type,
    data: fromJsonText(r.data),
  }));
}

/** Repository of call events. */
export interface EventsRepo {
  /** Appends an event; written immediately. */
  append(e: NewCallEvent): Promise<void>;
}

export function createEventsRepo(db: Kysely<Database>): EventsRepo {
  return { append: (e) => appendEvent(db, e) };
}
