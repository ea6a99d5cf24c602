/**
 * `/v1/calls` — call history for dashboards and integrations, placing outbound calls and hanging
 * up. Responses use API names (ISO timestamps, `from`/`to`, nested carrier) decoupled from store
 * rows. Another tenant's call is indistinguishable from a missing one: 404, never its data.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { LiveCalls } from '../../calls/live-calls.js';
import { E164, placeOutboundCall, type OutboundDeps } from '../../calls/outbound.js';
import {
  CALL_STATUSES,
  LIST_LIMIT_DEFAULT,
  LIST_LIMIT_MAX,
  LIVE_CALL_STATUSES,
  decodeCursor,
  type CallDetail,
  type CallEventRow,
  type CallRow,
  type Store,
  type TurnRow,
} from '../../store/store.js';
import type { TenantConfig } from '../../tenants/schema.js';
import { TwilioApiError, TwilioRestClient } from '../../transports/twilio/rest-client.js';
import { ApiError } from '../errors.js';
import { defineRoute, tenantIdOf, tenantScopeOf } from '../route.js';

export const listCallsQuery = z.object({
  limit: z.coerce.number().int().min(1).max(LIST_LIMIT_MAX).default(LIST_LIMIT_DEFAULT),
  before: z
    .string()
    .min(1)
    .max(512)
    .refine((c) => decodeCursor(c) !== undefined, { message: 'not a cursor returned by this API' })
    .optional(),
  status: z.enum(CALL_STATUSES).optional(),
});

export const callIdParams = z.object({ id: z.string().min(1).max(128) });

/** Variables handed to the agent: up to 50, names like `customer.name`, values up to 1,000 characters. */
export const callVariablesSchema = z
  .record(z.string().regex(/^[a-zA-Z][a-zA-Z0-9_.-]{0,63}$/, 'letters, digits, _, . and -, starting with a letter'), z.string().max(1000))
  .refine((v) => Object.keys(v).length <= 50, { message: 'at most 50 variables' });

export const placeCallBody = z.strictObject({
  to: z.string().regex(E164, 'must be an E.164 number like +15550100000'),
  /** One of the tenant's numbers; default: the agent's first number, else the tenant's first. */
  from: z.string().regex(E164, 'must be an E.164 number like +15550100000').optional(),
  agentId: z.string().min(1).max(63).optional(),
  variables: callVariablesSchema.optional(),
  machineDetection: z.boolean().optional(),
}).meta({ id: 'PlaceCall' });

const latencySchema = z.object({
  voiceToVoiceMs: z.number().nullable(),
  endpointingMs: z.number().nullable(),
  sttFinalMs: z.number().nullable(),
  llmFirstTokenMs: z.number().nullable(),
  ttsFirstAudioMs: z.number().nullable(),
  parleyOverheadMs: z.number().nullable(),
});

export const apiCallSummarySchema = z.object({
  id: z.string(),
  tenantId: z.string(),
  agentId: z.string().nullable(),
  direction: z.enum(['inbound', 'outbound']),
  from: z.string(),
  to: z.string(),
  status: z.string(),
  endReason: z.string().nullable(),
  startedAt: z.string(),
  answeredAt: z.string().nullable(),
  endedAt: z.string().nullable(),
  /** endedAt − startedAt; null while in progress. */
  durationMs: z.number().nullable(),
  carrier: z.object({ name: z.literal('twilio'), callSid: z.string().nullable(), streamSid: z.string().nullable() }),
  metadata: z.record(z.string(), z.unknown()),
}).meta({ id: 'CallSummary' });

export const apiCallSchema = apiCallSummarySchema.extend({
  turns: z.array(
    z.object({
      seq: z.number(),
      role: z.enum(['user', 'agent']),
      text: z.string(),
      startedAt: z.string(),
      endedAt: z.string().nullable(),
      interrupted: z.boolean(),
      latency: latencySchema,
    }),
  ),
  events: z.array(z.object({ at: z.string(), type: z.string(), data: z.record(z.string(), z.unknown()) })),
}).meta({ id: 'Call' });

export type ApiLatency = z.infer<typeof latencySchema>;
export type ApiCallSummary = z.infer<typeof apiCallSummarySchema>;
export type ApiCall = z.infer<typeof apiCallSchema>;
export type ApiTurn = ApiCall['turns'][number];
export type ApiEvent = ApiCall['events'][number];

const iso = (ms: number): string => new Date(ms).toISOString();
const isoOrNull = (ms: number | null): string | null => (ms === null ? null : iso(ms));

/** Store row → API summary. */
export function toApiCallSummary(c: CallRow): ApiCallSummary {
  return {
    id: c.id,
    tenantId: c.tenantId,
    agentId: c.agentId,
    direction: c.direction,
    from: c.fromNumber,
    to: c.toNumber,
    status: c.status,
    endReason: c.endReason,
    startedAt: iso(c.startedAtMs),
    answeredAt: isoOrNull(c.answeredAtMs),
    endedAt: isoOrNull(c.endedAtMs),
    durationMs: c.endedAtMs === null ? null : Math.max(0, c.endedAtMs - c.startedAtMs),
    carrier: { name: c.carrier, callSid: c.carrierCallSid, streamSid: c.streamSid },
    metadata: c.metadata,
  };
}

function toApiTurn(t: TurnRow): ApiTurn {
  const l = t.latency;
  return {
    seq: t.seq,
    role: t.role,
    text: t.text,
    startedAt: iso(t.startedAtMs),
    endedAt: isoOrNull(t.endedAtMs),
    interrupted: t.interrupted,
    latency: {
      voiceToVoiceMs: l.voiceToVoiceMs ?? null,
      endpointingMs: l.endpointingMs ?? null,
      sttFinalMs: l.sttFinalMs ?? null,
      llmFirstTokenMs: l.llmFirstTokenMs ?? null,
      ttsFirstAudioMs: l.ttsFirstAudioMs ?? null,
      parleyOverheadMs: l.parleyOverheadMs ?? null,
    },
  };
}

function toApiEvent(e: CallEventRow): ApiEvent {
  return { at: iso(e.atMs), type: e.type, data: e.data };
}

/** Store detail → API call with turns and events. */
export function toApiCall(c: CallDetail): ApiCall {
  return { ...toApiCallSummary(c), turns: c.turns.map(toApiTurn), events: c.events.map(toApiEvent) };
}

const TAGS = ['Calls'];

/**
 * Registers `GET /calls` and `GET /calls/:id` on `app` — meant to run inside the `/v1` scope,
 * behind the auth hook (routes read `request.principal`).
 */
export function registerCallsRoutes(app: FastifyInstance, deps: { store: Store }): void {
  defineRoute(
    app,
    {
      method: 'GET',
      path: '/calls',
      operationId: 'listCalls',
      summary: 'List calls',
      description: 'Newest first, paged with `nextCursor`. A tenant key sees its own calls; the admin key sees every tenant\'s, or one with `?tenantId=`.',
      tags: TAGS,
      access: 'tenant',
      query: listCallsQuery,
      responses: { 200: { description: 'A page of calls', schema: z.object({ data: z.array(apiCallSummarySchema), nextCursor: z.string().nullable() }) } },
    },
    async (ctx) => {
      const { query: q } = ctx;
      const page = await deps.store.calls.list({ tenantId: tenantScopeOf(ctx), limit: q.limit, before: q.before, status: q.status });
      return { data: page.calls.map(toApiCallSummary), nextCursor: page.nextCursor ?? null };
    },
  );

  defineRoute(
    app,
    {
      method: 'GET',
      path: '/calls/:id',
      operationId: 'getCall',
      summary: 'Get a call with its turns and events',
      description: 'By Parley call id or by Twilio CallSid.',
      tags: TAGS,
      access: 'tenant',
      params: callIdParams,
      responses: { 200: { description: 'The call', schema: apiCallSchema }, 404: { description: '`not_found`' } },
    },
    async (ctx) => {
      const { id } = ctx.params;
      const call = await deps.store.calls.get(id, { tenantId: tenantScopeOf(ctx) });
      if (call === undefined) throw new ApiError('not_found', { message: `Call ${id} not found` });
      return toApiCall(call);
    },
  );
}

export interface CallActionDeps extends OutboundDeps {
  readonly tenants: { get(id: string): TenantConfig | undefined };
  readonly liveCalls: LiveCalls;
}

/** The tenant a request acts for, or 404. */
export function tenantFor(deps: { tenants: { get(id: string): TenantConfig | undefined } }, id: string): TenantConfig {
  const tenant = deps.tenants.get(id);
  if (!tenant) throw new ApiError('not_found', { message: `Tenant ${id} not found` });
  return tenant;
}

/**
 * Registers `POST /calls` (place an outbound call) and `POST /calls/:id/hangup` inside the `/v1`
 * scope, behind the auth hook.
 */
export function registerCallActionRoutes(app: FastifyInstance, deps: CallActionDeps): void {
  const now = deps.now ?? Date.now;

  defineRoute(
    app,
    {
      method: 'POST',
      path: '/calls',
      operationId: 'placeCall',
      summary: 'Place an outbound call',
      description:
        'Twilio dials `to` from one of the tenant\'s numbers; when answered, the agent talks with the callee like with a caller. ' +
        '`variables` reach the agent like an inbound call\'s custom parameters. The call starts `queued`; follow it with GET /calls/:id.',
      tags: TAGS,
      access: 'tenant',
      body: placeCallBody,
      responses: {
        201: { description: 'The queued call', schema: apiCallSummarySchema },
        400: { description: '`validation_failed`: bad number, unknown agent, `from` not a tenant number' },
        422: { description: '`not_configured`: no Twilio credentials, no PARLEY_PUBLIC_URL or no tenant number' },
        429: { description: '`quota_exceeded`, with Retry-After' },
        502: { description: '`upstream_failed`: Twilio refused the call (stored as `failed`)' },
      },
    },
    async (ctx) => {
      const tenant = tenantFor(deps, tenantIdOf(ctx));
      const b = ctx.body;
      const call = await placeOutboundCall(deps, {
        tenant,
        to: b.to,
        ...(b.from !== undefined ? { from: b.from } : {}),
        ...(b.agentId !== undefined ? { agentId: b.agentId } : {}),
        ...(b.variables !== undefined ? { variables: b.variables } : {}),
        machineDetection: b.machineDetection === true,
        source: 'api',
      });
      return toApiCallSummary(call);
    },
  );

  defineRoute(
    app,
    {
      method: 'POST',
      path: '/calls/:id/hangup',
      operationId: 'hangupCall',
      summary: 'Hang up a call',
      description:
        'A call talking to an agent on this server is ended by its session (endReason `api_hangup`); a queued or ringing call is canceled through Twilio. ' +
        'Answers with the call as it is now; a live session may take a moment to record its end.',
      tags: TAGS,
      access: 'tenant',
      params: callIdParams,
      responses: {
        202: { description: 'Hang-up under way', schema: apiCallSummarySchema },
        404: { description: '`not_found`' },
        409: { description: '`conflict`: the call has already ended' },
        422: { description: '`not_configured`: no Twilio credentials to end a call not live here' },
        502: { description: '`upstream_failed`: Twilio refused' },
      },
    },
    async (ctx) => {
      const { id } = ctx.params;
      const call = await deps.store.calls.get(id, { tenantId: tenantScopeOf(ctx) });
      if (call === undefined) throw new ApiError('not_found', { message: `Call ${id} not found` });
      if (!(LIVE_CALL_STATUSES as readonly string[]).includes(call.status)) {
        throw new ApiError('conflict', { message: `Call ${call.id} has already ended (${call.status})` });
      }
      const nowMs = now();
      if (deps.liveCalls.hangup(call.id, 'api_hangup')) {
        await deps.store.events.append({ callId: call.id, atMs: nowMs, type: 'call.hangup_requested', data: { by: 'api' } });
        return summaryOf(deps.store, call.id, call);
      }
      if (call.carrierCallSid !== null) {
        const tenant = tenantFor(deps, call.tenantId);
        const { accountSid, authToken } = tenant.twilio ?? {};
        if (!accountSid || !authToken) throw new ApiError('not_configured', { message: 'Ending a call through Twilio needs twilio.accountSid and twilio.authToken' });
        try {
          await new TwilioRestClient({ accountSid, authToken }, deps.twilioApiBaseUrl).endCall(call.carrierCallSid, 'completed');
        } catch (err) {
          const status = err instanceof TwilioApiError ? err.status : null;
          throw new ApiError('upstream_failed', { message: `Twilio did not end the call: ${(err as Error).message}`, details: { twilioStatus: status }, cause: err });
        }
      }
      // Without a CallSid Twilio is still creating the call; placeOutboundCall cancels it when it learns the sid.
      const endedAtMs = now();
      await deps.store.events.append({ callId: call.id, atMs: endedAtMs, type: 'call.hangup_requested', data: { by: 'api' } });
      await deps.store.calls.end(call.id, { status: call.status === 'in_progress' ? 'completed' : 'canceled', endReason: 'api_hangup', endedAtMs });
      return summaryOf(deps.store, call.id, call);
    },
  );
}

async function summaryOf(store: Store, id: string, fallback: CallRow): Promise<ApiCallSummary> {
  return toApiCallSummary((await store.calls.get(id)) ?? fallback);
}
