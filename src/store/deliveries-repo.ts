import { randomUUID } from 'node:crypto';
import type { Kysely, Selectable } from 'kysely';
import { fromJsonText, toMs, toMsOrNull } from './codec.js';
import type { Database, WebhookDeliveriesTable } from './schema.js';
import type { DeliveryStatus, WebhookDeliveryRow } from './types.js';

export interface NewDelivery {
  tenantId: string;
  eventId: string;
  eventType: string;
  callId: string | null;
  url: string;
  payload: Record<string, unknown>;
  nowMs: number;
}

/** Webhook deliveries: one row per event and endpoint, kept with its attempts so the API can show them. */
export interface DeliveriesRepo {
  enqueue(d: NewDelivery): Promise<WebhookDeliveryRow>;
  /** Pending deliveries whose next attempt is due, oldest first. */
  due(nowMs: number, limit: number): Promise<WebhookDeliveryRow[]>;
  /** Records one attempt's outcome; `nextAttemptAtMs` null with status pending is not allowed. */
  recordAttempt(id: string, o: { status: DeliveryStatus; statusCode: number | null; error: string | null; nextAttemptAtMs: number | null; atMs: number }): Promise<void>;
  /** Puts a delivered or failed delivery back in the queue (redeliver). */
  requeue(tenantId: string | undefined, id: string, nowMs: number): Promise<boolean>;
  get(id: string, scope?: { tenantId?: string }): Promise<WebhookDeliveryRow | undefined>;
  list(q: { tenantId?: string; callId?: string; status?: DeliveryStatus; limit?: number }): Promise<WebhookDeliveryRow[]>;
}

function toRow(r: Selectable<WebhookDeliveriesTable>): WebhookDeliveryRow {
  return {
    id: r.id,
    tenantId: r.tenant_id,
    eventId: r.event_id,
    eventType: r.event_type,
    callId: r.call_id,
    url: r.url,
    payload: fromJsonText(r.payload),
    status: r.status as DeliveryStatus,
    attempts: Number(r.attempts),
    nextAttemptAtMs: toMsOrNull(r.next_attempt_at_ms),
    lastStatusCode: r.last_status_code === null ? null : Number(r.last_status_code),
    lastError: r.last_error,
    createdAtMs: toMs(r.created_at_ms),
    deliveredAtMs: toMsOrNull(r.delivered_at_ms),
  };
}

export function createDeliveriesRepo(db: Kysely<Database>): DeliveriesRepo {
  return {
    async enqueue(d) {
      const id = `whd_${randomUUID().replaceAll('-', '')}`;
      await db
        .insertInto('webhook_deliveries')
        .values({
          id,
          tenant_id: d.tenantId,
          event_id: d.eventId,
          event_type: d.eventType,
          call_id: d.callId,
          url: d.url,
          payload: JSON.stringify(d.payload),
          status: 'pending',
          attempts: 0,
          next_attempt_at_ms: d.nowMs,
          created_at_ms: d.nowMs,
        })
        .execute();
      return (await this.get(id)) as WebhookDeliveryRow;
    },
    async due(nowMs, limit) {
      const rows = await db
        .selectFrom('webhook_deliveries')
        .selectAll()
        .where('status', '=', 'pending')
        .where('next_attempt_at_ms', '<=', nowMs)
        .orderBy('next_attempt_at_ms')
        .limit(limit)
        .execute();
      return rows.map(toRow);
    },
    async recordAttempt(id, o) {
      await db
        .updateTable('webhook_deliveries')
        .set((eb) => ({
          status: o.status,
          attempts: eb('attempts', '+', 1),
          last_status_code: o.statusCode,
          last_error: o.error,
          next_attempt_at_ms: o.nextAttemptAtMs,
          ...(o.status === 'delivered' ? { delivered_at_ms: o.atMs } : {}),
        }))
        .where('id', '=', id)
        .execute();
    },
    async requeue(tenantId, id, nowMs) {
      let q = db.updateTable('webhook_deliveries').set({ status: 'pending', next_attempt_at_ms: nowMs }).where('id', '=', id);
      if (tenantId !== undefined) q = q.where('tenant_id', '=', tenantId);
      const r = await q.executeTakeFirst();
      return Number(r.numUpdatedRows) === 1;
    },
    async get(id, scope) {
      let q = db.selectFrom('webhook_deliveries').selectAll().where('id', '=', id);
      if (scope?.tenantId !== undefined) q = q.where('tenant_id', '=', scope.tenantId);
      const r = await q.executeTakeFirst();
      return r === undefined ? undefined : toRow(r);
    },
    async list(q) {
      let query = db.selectFrom('webhook_deliveries').selectAll();
      if (q.tenantId !== undefined) query = query.where('tenant_id', '=', q.tenantId);
      if (q.callId !== undefined) query = query.where('call_id', '=', q.callId);
      if (q.status !== undefined) query = query.where('status', '=', q.status);
      const rows = await query.orderBy('created_at_ms', 'desc').orderBy('id').limit(Math.min(Math.max(q.limit ?? 50, 1), 200)).execute();
      return rows.map(toRow);
    },
  };
}
