/**
 * Kysely table types (snake_case, as stored). Portable across SQLite and Postgres:
 * times are integer epoch ms (bigint columns; Postgres drivers may hand them back as strings,
 * so repositories coerce with Number()), JSON is serialised text, ids are text.
 */
import type { Generated } from 'kysely';

/** Epoch-ms column: a number when written, number or string (Postgres bigint) when read. */
type EpochMs = number;

export interface CallsTable {
  id: string;
  tenant_id: string;
  agent_id: string | null;
  carrier: string;
  carrier_call_sid: string | null;
  stream_sid: string | null;
  direction: string;
  from_number: string;
  to_number: string;
  status: string;
  end_reason: string | null;
  started_at_ms: EpochMs;
  answered_at_ms: EpochMs | null;
  ended_at_ms: EpochMs | null;
  /** JSON object as text. */
  metadata: string;
  /** Twilio answering-machine detection result (human, machine_start, fax, ...). */
  answered_by: string | null;
  summary: string | null;
  /** JSON texts (null until known). */
  usage: string | null;
  cost: string | null;
  extraction: string | null;
  recording: string | null;
}

export interface TurnsTable {
  id: string;
  call_id: string;
  seq: number;
  role: string;
  text: string;
  started_at_ms: EpochMs;
  ended_at_ms: EpochMs | null;
  /** 0 / 1 (portable boolean). */
  interrupted: number;
  /** JSON object as text. */
  latency: string;
}

export interface CallEventsTable {
  id: Generated<number>;
  call_id: string;
  at_ms: EpochMs;
  type: string;
  /** JSON object as text. */
  data: string;
}

export interface TenantsTable {
  id: string;
  /** The tenant document as given (JSON text), validated with the tenant file schema. */
  document: string;
  created_at_ms: EpochMs;
  updated_at_ms: EpochMs;
}

export interface ApiKeysTable {
  id: string;
  tenant_id: string;
  name: string;
  /** First characters of the key, to tell keys apart in listings. */
  prefix: string;
  key_sha256: string;
  created_at_ms: EpochMs;
  last_used_at_ms: EpochMs | null;
  revoked_at_ms: EpochMs | null;
}

export interface DocumentsTable {
  seq: Generated<number>;
  id: string;
  tenant_id: string;
  title: string;
  content: string;
  metadata: string;
  created_at_ms: EpochMs;
  updated_at_ms: EpochMs;
}

export interface WebhookDeliveriesTable {
  id: string;
  tenant_id: string;
  event_id: string;
  event_type: string;
  call_id: string | null;
  url: string;
  payload: string;
  status: string;
  attempts: number;
  next_attempt_at_ms: EpochMs | null;
  last_status_code: number | null;
  last_error: string | null;
  created_at_ms: EpochMs;
  delivered_at_ms: EpochMs | null;
}

export interface CallbacksTable {
  id: string;
  tenant_id: string;
  agent_id: string;
  to_number: string;
  from_number: string | null;
  due_at_ms: EpochMs;
  reason: string;
  variables: string;
  status: string;
  source_call_id: string | null;
  placed_call_id: string | null;
  error: string | null;
  created_at_ms: EpochMs;
  updated_at_ms: EpochMs;
}

export interface Database {
  tenants: TenantsTable;
  api_keys: ApiKeysTable;
  documents: DocumentsTable;
  webhook_deliveries: WebhookDeliveriesTable;
  callbacks: CallbacksTable;
  calls: CallsTable;
  turns: TurnsTable;
  call_events: CallEventsTable;
}
