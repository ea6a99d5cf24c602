/**
 * Domain types of the call store (camelCase). The SQL side (snake_case) lives in schema.ts;
 * repositories convert between the two so callers never see column names.
 */

/**
 * queued → ringing → in_progress → completed, or an outbound call that never connected:
 * busy, no_answer, canceled, failed. ended_abnormally: the server died during the call.
 */
export const CALL_STATUSES = ['queued', 'ringing', 'in_progress', 'completed', 'busy', 'no_answer', 'canceled', 'failed', 'ended_abnormally'] as const;
export type CallStatus = (typeof CALL_STATUSES)[number];

/** Statuses of a call that has not ended yet. */
export const LIVE_CALL_STATUSES = ['queued', 'ringing', 'in_progress'] as const satisfies readonly CallStatus[];

/** Statuses a call may be ended with. */
export type EndedCallStatus = Exclude<CallStatus, (typeof LIVE_CALL_STATUSES)[number]>;

export type CallDirection = 'inbound' | 'outbound';
export type Carrier = 'twilio';
export type TurnRole = 'user' | 'agent';

/**
 * Known end reasons. Kept open (`string & {}`) so transports can add reasons without a schema change.
 */
export type EndReason =
  | 'caller_hangup'
  | 'agent_hangup'
  | 'transfer'
  | 'stream_error'
  | 'server_restart'
  | (string & {});

export interface CallRow {
  id: string;
  tenantId: string;
  agentId: string | null;
  carrier: Carrier;
  carrierCallSid: string | null;
  streamSid: string | null;
  direction: CallDirection;
  fromNumber: string;
  toNumber: string;
  status: CallStatus;
  endReason: EndReason | null;
  startedAtMs: number;
  answeredAtMs: number | null;
  endedAtMs: number | null;
  /** Free-form JSON object: custom parameters, flow slots, ... */
  metadata: Record<string, unknown>;
  /** Answering-machine detection result when Twilio provided one (human, machine_start, fax, unknown, ...). */
  answeredBy: string | null;
  /** Metered usage, written when the call ends. */
  usage: CallUsage | null;
  cost: CallCost | null;
  summary: string | null;
  /** Structured data extracted after the call (the agent's extraction schema). */
  extraction: Record<string, unknown> | null;
  recording: CallRecording | null;
}

/** What a call consumed, the input of its cost. */
export interface CallUsage {
  /** Carrier minutes billed (whole minutes, rounded up). */
  carrierMinutes: number;
  /** Seconds of caller audio sent to speech-to-text. */
  sttSeconds: number;
  llmInputTokens: number;
  llmOutputTokens: number;
  /** True when a provider did not report tokens and they were estimated (≈ 4 characters per token). */
  llmTokensEstimated: boolean;
  ttsCharacters: number;
}

export interface CallCost {
  currency: string;
  carrier: number;
  stt: number;
  llm: number;
  tts: number;
  total: number;
}

export interface CallRecording {
  /** Relative to the data directory. */
  path: string;
  bytes: number;
  durationMs: number;
  sampleRateHz: number;
  /** Set when the retention policy (or a DELETE) removed the file. */
  deletedAtMs?: number;
}

/** Input of `calls.create`. Omitted optional fields default to null / `{}`; status defaults to 'in_progress'. */
export interface NewCall {
  /** Parley's id; generated (`call_…`) when omitted. */
  id?: string;
  tenantId: string;
  agentId?: string | null;
  carrier?: Carrier;
  carrierCallSid?: string | null;
  streamSid?: string | null;
  direction: CallDirection;
  fromNumber: string;
  toNumber: string;
  status?: CallStatus;
  startedAtMs: number;
  answeredAtMs?: number | null;
  metadata?: Record<string, unknown>;
}

/** Per-turn latency breakdown, all in milliseconds. Each stage is optional: it may not apply or not be measured. */
export interface TurnLatency {
  endpointingMs?: number;
  sttFinalMs?: number;
  llmFirstTokenMs?: number;
  ttsFirstAudioMs?: number;
  voiceToVoiceMs?: number;
  parleyOverheadMs?: number;
}

export interface TurnRow {
  id: string;
  callId: string;
  /** Order within the call, unique per call. */
  seq: number;
  role: TurnRole;
  text: string;
  startedAtMs: number;
  endedAtMs: number | null;
  interrupted: boolean;
  latency: TurnLatency;
}

/** Input of `turns.insert`. The id is chosen by the caller so it can `update` the turn later. */
export interface NewTurn {
  id: string;
  callId: string;
  seq: number;
  role: TurnRole;
  text?: string;
  startedAtMs: number;
  endedAtMs?: number | null;
  interrupted?: boolean;
  latency?: TurnLatency;
}

export interface CallEventRow {
  id: number;
  callId: string;
  atMs: number;
  type: string;
  data: Record<string, unknown>;
}

export interface NewCallEvent {
  callId: string;
  atMs: number;
  type: string;
  data?: Record<string, unknown>;
}

/** A call with its turns (ordered by seq) and events (ordered by time, then insertion). */
export interface CallDetail extends CallRow {
  turns: TurnRow[];
  events: CallEventRow[];
}

/** Restricts reads to one tenant; omitted tenantId = all tenants (admin). */
export interface StoreScope {
  tenantId?: string;
}

export interface ListCallsQuery {
  tenantId?: string;
  /** 1..200, default 50. */
  limit?: number;
  /** Opaque cursor from a previous page's `nextCursor`. */
  before?: string;
  status?: string;
}

export interface CallPage {
  calls: CallRow[];
  /** Present when more (older) calls exist. */
  nextCursor?: string;
}

export type CallPatch = Partial<
  Pick<
    CallRow,
    | 'status'
    | 'endReason'
    | 'answeredAtMs'
    | 'endedAtMs'
    | 'streamSid'
    | 'metadata'
    | 'agentId'
    | 'carrierCallSid'
    | 'answeredBy'
    | 'usage'
    | 'cost'
    | 'summary'
    | 'extraction'
    | 'recording'
  >
>;

/** A tenant's consumption since a moment (quotas). */
export interface TenantUsage {
  calls: number;
  /** Sum of call durations (ended calls, and live calls up to now), in minutes. */
  minutes: number;
  /** Sum of `cost.total` of ended calls. */
  cost: number;
}

// ---------- platform ----------

export interface StoredTenant {
  id: string;
  /** The tenant document as given to the API (before defaults). */
  document: Record<string, unknown>;
  createdAtMs: number;
  updatedAtMs: number;
}

export interface ApiKeyRow {
  id: string;
  tenantId: string;
  name: string;
  prefix: string;
  createdAtMs: number;
  lastUsedAtMs: number | null;
  revokedAtMs: number | null;
}

export interface DocumentRow {
  id: string;
  tenantId: string;
  title: string;
  content: string;
  metadata: Record<string, unknown>;
  createdAtMs: number;
  updatedAtMs: number;
}

export interface DocumentHit {
  id: string;
  title: string;
  /** The best-matching passage, matched terms between [ and ]. */
  snippet: string;
  /** bm25 rank; lower is better. */
  rank: number;
}

export const DELIVERY_STATUSES = ['pending', 'delivered', 'failed'] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

export interface WebhookDeliveryRow {
  id: string;
  tenantId: string;
  eventId: string;
  eventType: string;
  callId: string | null;
  url: string;
  payload: Record<string, unknown>;
  status: DeliveryStatus;
  attempts: number;
  nextAttemptAtMs: number | null;
  lastStatusCode: number | null;
  lastError: string | null;
  createdAtMs: number;
  deliveredAtMs: number | null;
}

export const CALLBACK_STATUSES = ['scheduled', 'placing', 'placed', 'failed', 'canceled'] as const;
export type CallbackStatus = (typeof CALLBACK_STATUSES)[number];

export interface CallbackRow {
  id: string;
  tenantId: string;
  agentId: string;
  toNumber: string;
  fromNumber: string | null;
  dueAtMs: number;
  reason: string;
  variables: Record<string, string>;
  status: CallbackStatus;
  sourceCallId: string | null;
  placedCallId: string | null;
  error: string | null;
  createdAtMs: number;
  updatedAtMs: number;
}

export type TurnPatch = Partial<Pick<TurnRow, 'text' | 'endedAtMs' | 'interrupted' | 'latency'>>;
