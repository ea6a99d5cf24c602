import type { Kysely, Selectable, Updateable } from 'kysely';
import { decodeCursor, encodeCursor, fromJsonText, toJsonText, toMs, toMsOrNull } from './codec.js';
import { appendEvent, listEvents } from './events-repo.js';
import { newCallId } from './ids.js';
import type { CallsTable, Database } from './schema.js';
import { inTransaction } from './transaction.js';
import { LIVE_CALL_STATUSES } from './types.js';
import { listTurns } from './turns-repo.js';
import type {
  CallDetail,
  CallPage,
  CallPatch,
  CallRow,
  EndedCallStatus,
  ListCallsQuery,
  TenantUsage,
  NewCall,
  StoreScope,
} from './types.js';

/** Page size bounds of `list`; the API validates the same range. */
export const LIST_LIMIT_DEFAULT = 50;
export const LIST_LIMIT_MAX = 200;

/** Event type appended to each call closed by `closeAbandoned`. */
export const CLOSED_ON_RESTART_EVENT = 'call.closed_on_restart';

/** Max ids per `IN (...)` list, well under SQLite's and Postgres' bound-parameter limits. */
const ID_CHUNK = 500;

/** Repository of calls. */
export interface CallsRepo {
  /** Inserts a call (written immediately) and returns the stored row. */
  create(c: NewCall): Promise<CallRow>;
  /** Patches a call. `metadata` replaces the whole object. Unknown ids are a no-op. */
  update(id: string, patch: CallPatch): Promise<void>;
  /** Ends a call that is still in progress; a no-op if it has already ended (first end wins). */
  end(id: string, o: { status: EndedCallStatus; endReason: string; endedAtMs: number }): Promise<void>;
  /**
   * A call with its turns and events, looked up by Parley id first, then by carrier call sid.
   * With `scope.tenantId`, calls of other tenants are invisible (undefined).
   */
  get(idOrCarrierSid: string, scope?: StoreScope): Promise<CallDetail | undefined>;
  /** Newest first (startedAtMs, then id, descending); `before` is the previous page's `nextCursor`. */
  list(q: ListCallsQuery): Promise<CallPage>;
  /**
   * Marks every in-progress call as `ended_abnormally` / `server_restart` (run at start-up, when no
   * call can still be live) and records a `call.closed_on_restart` event on each. Returns the count.
   */
  closeAbandoned(nowMs: number): Promise<number>;
  /** Calls of a tenant that have not ended (queued, ringing, in progress). */
  countLive(tenantId: string): Promise<number>;
  /** Calls started at or after `sinceMs`, their minutes (live calls counted up to `nowMs`) and cost. */
  usageSince(tenantId: string, sinceMs: number, nowMs: number): Promise<TenantUsage>;
  /** A tenant's calls from or to `number`, newest first, without their turns. */
  listByNumber(tenantId: string, number: string, o?: { limit?: number; excludeId?: string }): Promise<CallRow[]>;
}

export function createCallsRepo(db: Kysely<Database>): CallsRepo {
  return {
    async create(c) {
      const row: CallRow = {
        id: c.id ?? newCallId(),
        tenantId: c.tenantId,
        agentId: c.agentId ?? null,
        carrier: c.carrier ?? 'twilio',
        carrierCallSid: c.carrierCallSid ?? null,
        streamSid: c.streamSid ?? null,
        direction: c.direction,
        fromNumber: c.fromNumber,
        toNumber: c.toNumber,
        status: c.status ?? 'in_progress',
        endReason: null,
        startedAtMs: c.startedAtMs,
        answeredAtMs: c.answeredAtMs ?? null,
        endedAtMs: null,
        metadata: c.metadata ?? {},
        answeredBy: null,
        usage: null,
        cost: null,
        summary: null,
        extraction: null,
        recording: null,
      };
      await db
        .insertInto('calls')
        .values({
          id: row.id,
          tenant_id: row.tenantId,
          agent_id: row.agentId,
          carrier: row.carrier,
          carrier_call_sid: row.carrierCallSid,
          stream_sid: row.streamSid,
          direction: row.direction,
          from_number: row.fromNumber,
          to_number: row.toNumber,
          status: row.status,
          end_reason: row.endReason,
          started_at_ms: row.startedAtMs,
          answered_at_ms: row.answeredAtMs,
          ended_at_ms: row.endedAtMs,
          metadata: toJsonText(row.metadata),
        })
        .execute();
      return row;
    },

    async update(id, patch) {
      const set: Updateable<CallsTable> = {};
      if (patch.status !== undefined) set.status = patch.status;
      if (patch.endReason !== undefined) set.end_reason = patch.endReason;
      if (patch.answeredAtMs !== undefined) set.answered_at_ms = patch.answeredAtMs;
      if (patch.endedAtMs !== undefined) set.ended_at_ms = patch.endedAtMs;
      if (patch.streamSid !== undefined) set.stream_sid = patch.streamSid;
      if (patch.metadata !== undefined) set.metadata = toJsonText(patch.metadata);
      if (patch.agentId !== undefined) set.agent_id = patch.agentId;
      if (patch.carrierCallSid !== undefined) set.carrier_call_sid = patch.carrierCallSid;
      if (patch.answeredBy !== undefined) set.answered_by = patch.answeredBy;
      if (patch.summary !== undefined) set.summary = patch.summary;
      if (patch.usage !== undefined) set.usage = jsonOrNull(patch.usage);
      if (patch.cost !== undefined) set.cost = jsonOrNull(patch.cost);
      if (patch.extraction !== undefined) set.extraction = jsonOrNull(patch.extraction);
      if (patch.recording !== undefined) set.recording = jsonOrNull(patch.recording);
      if (Object.keys(set).length === 0) return;
      await db.updateTable('calls').set(set).where('id', '=', id).execute();
    },

    async end(id, o) {
      await db
        .updateTable('calls')
        .set({ status: o.status, end_reason: o.endReason, ended_at_ms: o.endedAtMs })
        .where('id', '=', id)
        .where('status', 'in', LIVE_CALL_STATUSES)
        .execute();
    },

    async get(idOrCarrierSid, scope) {
      const base = () => {
        let q = db.selectFrom('calls').selectAll();
        if (scope?.tenantId !== undefined) q = q.where('tenant_id', '=', scope.tenantId);
        return q;
      };
      const row =
        (await base().where('id', '=', idOrCarrierSid).executeTakeFirst()) ??
        // A carrier may reuse nothing, but if two rows ever share a sid, the latest wins.
        (await base()
          .where('carrier_call_sid', '=', idOrCarrierSid)
          .orderBy('started_at_ms', 'desc')
          .limit(1)
          .executeTakeFirst());
      if (row === undefined) return undefined;
      const [turns, events] = await Promise.all([listTurns(db, row.id), listEvents(db, row.id)]);
      return { ...toCallRow(row), turns, events };
    },

    async list(q) {
      const limit = Math.min(Math.max(Math.trunc(q.limit ?? LIST_LIMIT_DEFAULT), 1), LIST_LIMIT_MAX);
      let query = db.selectFrom('calls').selectAll();
      if (q.tenantId !== undefined) query = query.where('tenant_id', '=', q.tenantId);
      if (q.status !== undefined) query = query.where('status', '=', q.status);
      if (q.before !== undefined) {
        const cursor = decodeCursor(q.before);
        if (cursor === undefined) throw new TypeError('invalid calls cursor');
        query = query.where((eb) =>
          eb.or([
            eb('started_at_ms', '<', cursor.startedAtMs),
            eb.and([eb('started_at_ms', '=', cursor.startedAtMs), eb('id', '<', cursor.id)]),
          ]),
        );
      }
      // One extra row tells whether another page exists without a COUNT.
      const rows = await query
        .orderBy('started_at_ms', 'desc')
        .orderBy('id', 'desc')
        .limit(limit + 1)
        .execute();
      const calls = rows.slice(0, limit).map(toCallRow);
      const last = calls[calls.length - 1];
      return rows.length > limit && last !== undefined
        ? { calls, nextCursor: encodeCursor({ startedAtMs: last.startedAtMs, id: last.id }) }
        : { calls };
    },

    async closeAbandoned(nowMs) {
      return inTransaction(db, async (trx) => {
        const open = await trx.selectFrom('calls').select('id').where('status', '=', 'in_progress').execute();
        const ids = open.map((r) => r.id);
        for (let i = 0; i < ids.length; i += ID_CHUNK) {
          await trx
            .updateTable('calls')
            .set({ status: 'ended_abnormally', end_reason: 'server_restart', ended_at_ms: nowMs })
            .where('id', 'in', ids.slice(i, i + ID_CHUNK))
            .execute();
        }
        for (const id of ids) {
          await appendEvent(trx, { callId: id, atMs: nowMs, type: CLOSED_ON_RESTART_EVENT, data: { previousStatus: 'in_progress' } });
        }
        return ids.length;
      });
    },

    async countLive(tenantId) {
      const r = await db
        .selectFrom('calls')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('tenant_id', '=', tenantId)
        .where('status', 'in', LIVE_CALL_STATUSES)
        .executeTakeFirst();
      return Number(r?.n ?? 0);
    },

    async usageSince(tenantId, sinceMs, nowMs) {
      const rows = await db
        .selectFrom('calls')
        .select(['started_at_ms', 'answered_at_ms', 'ended_at_ms', 'status', 'cost'])
        .where('tenant_id', '=', tenantId)
        .where('started_at_ms', '>=', sinceMs)
        // Calls refused for a quota were never answered; counting them would let a full tenant use up its day.
        .where((eb) => eb.or([eb('end_reason', 'is', null), eb('end_reason', 'not like', 'quota_exceeded:%')]))
        .execute();
      let minutesMs = 0;
      let cost = 0;
      for (const r of rows) {
        const answered = toMsOrNull(r.answered_at_ms);
        if (answered !== null) minutesMs += Math.max(0, (toMsOrNull(r.ended_at_ms) ?? nowMs) - answered);
        const c = r.cost === null ? undefined : (fromJsonText(r.cost) as { total?: unknown }).total;
        if (typeof c === 'number' && Number.isFinite(c)) cost += c;
      }
      return { calls: rows.length, minutes: minutesMs / 60_000, cost };
    },

    async listByNumber(tenantId, number, o = {}) {
      let q = db
        .selectFrom('calls')
        .selectAll()
        .where('tenant_id', '=', tenantId)
        .where((eb) => eb.or([eb('from_number', '=', number), eb('to_number', '=', number)]));
      if (o.excludeId !== undefined) q = q.where('id', '!=', o.excludeId);
      const rows = await q.orderBy('started_at_ms', 'desc').limit(Math.min(Math.max(o.limit ?? 5, 1), 50)).execute();
      return rows.map(toCallRow);
    },
  };
}

function jsonOrNull(v: object | null): string | null {
  return v === null ? null : JSON.stringify(v);
}

function objectOrNull<T>(text: string | null): T | null {
  return text === null ? null : (fromJsonText(text) as T);
}

function toCallRow(r: Selectable<CallsTable>): CallRow {
  return {
    id: r.id,
    tenantId: r.tenant_id,
    agentId: r.agent_id,
    carrier: r.carrier as CallRow['carrier'],
    carrierCallSid: r.carrier_call_sid,
    streamSid: r.stream_sid,
    direction: r.direction as CallRow['direction'],
    fromNumber: r.from_number,
    toNumber: r.to_number,
    status: r.status as CallRow['status'],
    endReason: r.end_reason,
    startedAtMs: toMs(r.started_at_ms),
    answeredAtMs: toMsOrNull(r.answered_at_ms),
    endedAtMs: toMsOrNull(r.ended_at_ms),
    metadata: fromJsonText(r.metadata),
    answeredBy: r.answered_by ?? null,
    usage: objectOrNull(r.usage ?? null),
    cost: objectOrNull(r.cost ?? null),
    summary: r.summary ?? null,
    extraction: objectOrNull(r.extraction ?? null),
    recording: objectOrNull(r.recording ?? null),
  };
}
