/**
 * Domain types of the call store (camelCase). The SQL side (snake_case) lives in schema.ts;
 * repositories convert between the two so callers never see column names.
 */

export const CALL_STATUSES = ['in_progress', 'completed', 'failed', 'ended_abnormally'] as const;
export type CallStatus = (typeof CALL_STATUSES)[number];

/** Statuses a call may be ended with. */
export type EndedCallStatus = Exclude<CallStatus, 'in_progress'>;

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
  Pick<CallRow, 'status' | 'endReason' | 'answeredAtMs' | 'endedAtMs' | 'streamSid' | 'metadata' | 'agentId'>
>;

export type TurnPatch = Partial<Pick<TurnRow, 'text' | 'endedAtMs' | 'interrupted' | 'latency'>>;
