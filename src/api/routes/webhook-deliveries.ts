/**
 * `/v1/webhook-deliveries` — what Parley sent to a tenant's webhook endpoints, each delivery with
 * its attempts so far, and a way to send one again. Another tenant's delivery is indistinguishable
 * from a missing one (404). Responses use API names: ISO timestamps, camelCase.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { DELIVERY_STATUSES, type Store, type WebhookDeliveryRow } from '../../store/store.js';
import { ApiError } from '../errors.js';
import { defineRoute, tenantScopeOf } from '../route.js';

export interface WebhookDeliveryRoutesDeps {
  store: Pick<Store, 'deliveries'>;
  /** Told to look for due deliveries after a redeliver (the WebhookDispatcher). */
  dispatcher: { kick(): void };
  now?: () => number;
}

const iso = (ms: number): string => new Date(ms).toISOString();
const isoOrNull = (ms: number | null): string | null => (ms === null ? null : iso(ms));

const deliverySummary = z.object({
  id: z.string(),
  tenantId: z.string(),
  /** The envelope's `id`; shared by every endpoint and every redelivery of the event. */
  eventId: z.string(),
  eventType: z.string(),
  callId: z.string().nullable(),
  url: z.string(),
  status: z.enum(DELIVERY_STATUSES),
  attempts: z.number().int(),
  lastStatusCode: z.number().int().nullable(),
  lastError: z.string().nullable(),
  nextAttemptAt: z.string().nullable(),
  createdAt: z.string(),
  deliveredAt: z.string().nullable(),
});
const deliveryDetail = deliverySummary.extend({
  /** The JSON body sent (the event envelope). */
  payload: z.record(z.string(), z.unknown()),
});

export type ApiWebhookDeliverySummary = z.infer<typeof deliverySummary>;
export type ApiWebhookDelivery = z.infer<typeof deliveryDetail>;

export function toApiDeliverySummary(d: WebhookDeliveryRow): ApiWebhookDeliverySummary {
  return {
    id: d.id,
    tenantId: d.tenantId,
    eventId: d.eventId,
    eventType: d.eventType,
    callId: d.callId,
    url: d.url,
    status: d.status,
    attempts: d.attempts,
    lastStatusCode: d.lastStatusCode,
    lastError: d.lastError,
    nextAttemptAt: isoOrNull(d.nextAttemptAtMs),
    createdAt: iso(d.createdAtMs),
    deliveredAt: isoOrNull(d.deliveredAtMs),
  };
}

export function toApiDelivery(d: WebhookDeliveryRow): ApiWebhookDelivery {
  return { ...toApiDeliverySummary(d), payload: d.payload };
}

const listQuery = z.object({
  callId: z.string().min(1).max(128).optional(),
  status: z.enum(DELIVERY_STATUSES).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});
const idParams = z.object({ id: z.string().min(1).max(128) });
const errorResponse = (description: string) => ({ description });

/** Registers the routes on `app` — inside the `/v1` scope, behind the auth hook. */
export function registerWebhookDeliveryRoutes(app: FastifyInstance, deps: WebhookDeliveryRoutesDeps): void {
  const now = deps.now ?? Date.now;
  const notFound = (id: string): ApiError => new ApiError('not_found', { message: `Webhook delivery ${id} not found` });

  defineRoute(
    app,
    {
      method: 'GET',
      path: '/webhook-deliveries',
      operationId: 'listWebhookDeliveries',
      summary: 'List webhook deliveries',
      description: 'Newest first. With the admin key and no `tenantId`, every tenant.',
      tags: ['webhooks'],
      access: 'tenant',
      query: listQuery,
      responses: { 200: { description: 'Deliveries, without payloads', schema: z.object({ data: z.array(deliverySummary) }) } },
    },
    async (ctx) => {
      const rows = await deps.store.deliveries.list({ tenantId: tenantScopeOf(ctx), callId: ctx.query.callId, status: ctx.query.status, limit: ctx.query.limit });
      return { data: rows.map(toApiDeliverySummary) };
    },
  );

  defineRoute(
    app,
    {
      method: 'GET',
      path: '/webhook-deliveries/:id',
      operationId: 'getWebhookDelivery',
      summary: 'Get a webhook delivery with its payload',
      tags: ['webhooks'],
      access: 'tenant',
      params: idParams,
      responses: { 200: { description: 'The delivery', schema: deliveryDetail }, 404: errorResponse('not_found') },
    },
    async (ctx) => {
      const row = await deps.store.deliveries.get(ctx.params.id, { tenantId: tenantScopeOf(ctx) });
      if (row === undefined) throw notFound(ctx.params.id);
      return toApiDelivery(row);
    },
  );

  defineRoute(
    app,
    {
      method: 'POST',
      path: '/webhook-deliveries/:id/redeliver',
      operationId: 'redeliverWebhookDelivery',
      summary: 'Send a webhook delivery again now',
      description:
        'Puts the delivery back in the queue, due now, whatever its status; the same event (same `eventId`) is sent, signed afresh. ' +
        'Attempts keep counting: once the retry schedule is used up, a failed redelivery is not retried.',
      tags: ['webhooks'],
      access: 'tenant',
      params: idParams,
      responses: { 202: { description: 'Queued', schema: deliveryDetail }, 404: errorResponse('not_found') },
    },
    async (ctx) => {
      const tenantId = tenantScopeOf(ctx);
      if (!(await deps.store.deliveries.requeue(tenantId, ctx.params.id, now()))) throw notFound(ctx.params.id);
      deps.dispatcher.kick();
      const row = await deps.store.deliveries.get(ctx.params.id, { tenantId });
      if (row === undefined) throw notFound(ctx.params.id);
      return toApiDelivery(row);
    },
  );
}
