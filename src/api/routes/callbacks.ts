/**
 * `/v1/callbacks` — calls promised for later (by the schedule_callback tool or through the API),
 * placed by the callback scheduler when due. Another tenant's callback is a 404, never its data.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { E164 } from '../../calls/outbound.js';
import { CALLBACK_STATUSES, type CallbackRow, type Store } from '../../store/store.js';
import type { TenantConfig } from '../../tenants/schema.js';
import { ApiError } from '../errors.js';
import { defineRoute, tenantIdOf, tenantScopeOf } from '../route.js';
import { tenantFor } from './calls.js';

/** Furthest ahead a callback may be booked (the same bound the schedule_callback tool applies). */
export const MAX_CALLBACK_AHEAD_MS = 30 * 24 * 60 * 60_000;
/** A due time this far in the past is a mistake, not "now" (clock skew between client and server is allowed). */
const PAST_TOLERANCE_MS = 5 * 60_000;

export const apiCallbackSchema = z.object({
  id: z.string(),
  tenantId: z.string(),
  agentId: z.string(),
  to: z.string(),
  from: z.string().nullable(),
  /** When it is due (ISO). */
  at: z.string(),
  reason: z.string(),
  status: z.enum(CALLBACK_STATUSES),
  /** The call it was promised on, if any. */
  sourceCallId: z.string().nullable(),
  /** The outbound call placed for it. */
  placedCallId: z.string().nullable(),
  /** Why placing failed, or why it was postponed. */
  error: z.string().nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
}).meta({ id: 'Callback' });
export type ApiCallback = z.infer<typeof apiCallbackSchema>;

export function toApiCallback(c: CallbackRow): ApiCallback {
  return {
    id: c.id,
    tenantId: c.tenantId,
    agentId: c.agentId,
    to: c.toNumber,
    from: c.fromNumber,
    at: new Date(c.dueAtMs).toISOString(),
    reason: c.reason,
    status: c.status,
    sourceCallId: c.sourceCallId,
    placedCallId: c.placedCallId,
    error: c.error,
    createdAt: new Date(c.createdAtMs).toISOString(),
    updatedAt: new Date(c.updatedAtMs).toISOString(),
  };
}

const listQuery = z.object({
  status: z.enum(CALLBACK_STATUSES).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});

const createBody = z.strictObject({
  to: z.string().regex(E164, 'must be an E.164 number like +15550100000'),
  /** ISO-8601 date-time with an offset (Z or ±hh:mm). */
  at: z.iso.datetime({ offset: true }),
  agentId: z.string().min(1).max(63).optional(),
  reason: z.string().max(500).optional(),
}).meta({ id: 'NewCallback' });

const idParams = z.object({ id: z.string().min(1).max(128) });
const TAGS = ['Callbacks'];

export interface CallbacksRouteDeps {
  readonly store: Store;
  readonly tenants: { get(id: string): TenantConfig | undefined };
  readonly now?: () => number;
}

/** Registers `GET /callbacks`, `POST /callbacks` and `DELETE /callbacks/:id` inside the `/v1` scope. */
export function registerCallbacksRoutes(app: FastifyInstance, deps: CallbacksRouteDeps): void {
  const now = deps.now ?? Date.now;

  defineRoute(
    app,
    {
      method: 'GET',
      path: '/callbacks',
      operationId: 'listCallbacks',
      summary: 'List callbacks',
      description: 'Latest due first. A tenant key sees its own; the admin key every tenant\'s, or one with `?tenantId=`.',
      tags: TAGS,
      access: 'tenant',
      query: listQuery,
      responses: { 200: { description: 'Callbacks', schema: z.object({ data: z.array(apiCallbackSchema) }) } },
    },
    async (ctx) => {
      const rows = await deps.store.callbacks.list({ tenantId: tenantScopeOf(ctx), limit: ctx.query.limit, ...(ctx.query.status ? { status: ctx.query.status } : {}) });
      return { data: rows.map(toApiCallback) };
    },
  );

  defineRoute(
    app,
    {
      method: 'POST',
      path: '/callbacks',
      operationId: 'createCallback',
      summary: 'Schedule a callback',
      description: 'Parley calls `to` at `at` (up to 30 days ahead) with the agent (default: the tenant\'s default agent), which gets `callback.reason` and `callback.id` as variables.',
      tags: TAGS,
      access: 'tenant',
      body: createBody,
      responses: {
        201: { description: 'The scheduled callback', schema: apiCallbackSchema },
        400: { description: '`validation_failed`: bad number or time, unknown agent' },
      },
    },
    async (ctx) => {
      const tenant = tenantFor(deps, tenantIdOf(ctx));
      const b = ctx.body;
      const nowMs = now();
      const dueAtMs = Date.parse(b.at);
      if (dueAtMs < nowMs - PAST_TOLERANCE_MS) throw invalid('at', 'is in the past');
      if (dueAtMs - nowMs > MAX_CALLBACK_AHEAD_MS) throw invalid('at', 'is more than 30 days ahead');
      const agentId = b.agentId ?? tenant.defaultAgentId;
      if (!tenant.agents[agentId]) throw invalid('agentId', `unknown agent "${agentId}"`);
      const row = await deps.store.callbacks.create({ tenantId: tenant.id, agentId, toNumber: b.to, dueAtMs: Math.max(dueAtMs, nowMs), reason: b.reason ?? '', nowMs });
      return toApiCallback(row);
    },
  );

  defineRoute(
    app,
    {
      method: 'DELETE',
      path: '/callbacks/:id',
      operationId: 'cancelCallback',
      summary: 'Cancel a scheduled callback',
      tags: TAGS,
      access: 'tenant',
      params: idParams,
      responses: {
        204: { description: 'Canceled' },
        404: { description: '`not_found`' },
        409: { description: '`conflict`: it is being placed, was placed, failed or was already canceled' },
      },
    },
    async (ctx) => {
      const { id } = ctx.params;
      const tenantId = tenantScopeOf(ctx);
      if (await deps.store.callbacks.cancel(tenantId, id, now())) return undefined;
      const row = await deps.store.callbacks.get(id, { tenantId });
      if (!row) throw new ApiError('not_found', { message: `Callback ${id} not found` });
      throw new ApiError('conflict', { message: `Callback ${id} is ${row.status}; only a scheduled callback can be canceled` });
    },
  );
}

function invalid(path: string, message: string): ApiError {
  return new ApiError('validation_failed', { message: `${path}: ${message}`, details: [{ path, message }] });
}
