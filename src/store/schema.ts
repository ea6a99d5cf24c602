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

export interface Database {
  calls: CallsTable;
  turns: TurnsTable;
  call_events: CallEventsTable;
}
