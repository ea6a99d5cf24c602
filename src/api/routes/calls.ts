/**
 * `/v1/calls` — call history for dashboards and integrations. Responses use API names
 * (ISO timestamps, `from`/`to`, nested carrier) decoupled from store rows.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import {
  CALL_STATUSES,
  LIST_LIMIT_DEFAULT,
  LIST_LIMIT_MAX,
  decodeCursor,
  type CallDetail,
  type CallEventRow,
  type CallRow,
  type Store,
  type TurnRow,
} from '../../store/store.js';
import { principalOf, scopeOf } from '../auth.js';
import { ApiError } from '../errors.js';

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

export interface ApiLatency {
  voiceToVoiceMs: number | null;
  endpointingMs: number | null;
  sttFinalMs: number | null;
  llmFirstTokenMs: number | null;
  ttsFirstAudioMs: number | null;
  parleyOverheadMs: number | null;
}

export interface ApiTurn {
  seq: number;
  role: 'user' | 'agent';
  text: string;
  startedAt: string;
  endedAt: string | null;
  interrupted: boolean;
  latency: ApiLatency;
}

export interface ApiEvent {
  at: string;
  type: string;
  data: Record<string, unknown>;
}

export interface ApiCallSummary {
  id: string;
  tenantId: string;
  agentId: string | null;
  direction: 'inbound' | 'outbound';
  from: string;
  to: string;
  status: string;
  endReason: string | null;
  startedAt: string;
  answeredAt: string | null;
  endedAt: string | null;
  /** endedAt − startedAt; null while in progress. */
  durationMs: number | null;
  carrier: { name: 'twilio'; callSid: string | null; streamSid: string | null };
  metadata: Record<string, unknown>;
}

export interface ApiCall extends ApiCallSummary {
  turns: ApiTurn[];
  events: ApiEvent[];
}

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

/**
 * Registers `GET /calls` and `GET /calls/:id` on `app` — meant to run inside the `/v1` scope,
 * behind the auth hook (routes read `request.principal`).
 */
export function registerCallsRoutes(app: FastifyInstance, deps: { store: Store }): void {
  app.get('/calls', async (request) => {
    const q = listCallsQuery.parse(request.query);
    const scope = scopeOf(principalOf(request));
    const page = await deps.store.calls.list({ ...scope, limit: q.limit, before: q.before, status: q.status });
    return { data: page.calls.map(toApiCallSummary), nextCursor: page.nextCursor ?? null };
  });

  app.get('/calls/:id', async (request) => {
    const { id } = callIdParams.parse(request.params);
    // Another tenant's call is indistinguishable from a missing one: 404, never its data.
    const call = await deps.store.calls.get(id, scopeOf(principalOf(request)));
    if (call === undefined) throw new ApiError('not_found', { message: `Call ${id} not found` });
    return toApiCall(call);
  });
}
