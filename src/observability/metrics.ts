/**
 * Prometheus metrics. Each call to createMetrics() builds its own Registry (never prom-client's
 * global one) so several apps can coexist in one process, e.g. in tests.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { TurnLatency } from '../store/types.js';

/** Pipeline stages whose latency is observed per turn. */
export const LATENCY_STAGES = [
  'endpointing',
  'stt_final',
  'llm_first_token',
  'tts_first_audio',
  'voice_to_voice',
  'parley_overhead',
] as const;
export type LatencyStage = (typeof LATENCY_STAGES)[number];

/**
 * Buckets (ms) spanning a fast stage (~5 ms overhead) to a slow turn (5 s voice-to-voice);
 * denser between 100 ms and 1.5 s where conversational latency targets sit.
 */
export const LATENCY_BUCKETS_MS = [5, 10, 25, 50, 100, 150, 200, 300, 400, 500, 750, 1000, 1500, 2000, 3000, 5000];

export interface Metrics {
  /** Registry to expose on /metrics; holds everything below plus default process metrics. */
  readonly registry: Registry;
  /** Calls currently connected. */
  readonly activeCalls: Gauge;
  /** Calls ended, by final status. */
  readonly callsTotal: Counter<'status'>;
  /** Turns completed, by role and whether they were interrupted ('true' | 'false'). */
  readonly turnsTotal: Counter<'role' | 'interrupted'>;
  /** Per-stage latency in ms. */
  readonly stageLatencyMs: Histogram<'stage'>;
  /** Times the caller talked over the agent and the agent yielded. */
  readonly bargeInsTotal: Counter;
  /** Media stream failures, by reason. */
  readonly streamErrorsTotal: Counter<'reason'>;
  /** Provider fallbacks: a chain moved from one provider to the next. */
  readonly providerFallbacksTotal: Counter<'kind' | 'from' | 'to'>;
}

export interface CreateMetricsOptions {
  /** Register default Node process metrics (CPU, memory, event loop, GC). Default true. */
  collectDefaults?: boolean;
}

/** Creates a fresh registry with Parley's metrics. */
export function createMetrics(o: CreateMetricsOptions = {}): Metrics {
  const registry = new Registry();
  const registers = [registry];
  if (o.collectDefaults ?? true) collectDefaultMetrics({ register: registry });
  return {
    registry,
    activeCalls: new Gauge({ name: 'parley_active_calls', help: 'Calls currently connected', registers }),
    callsTotal: new Counter({
      name: 'parley_calls_total',
      help: 'Calls ended, by final status',
      labelNames: ['status'] as const,
      registers,
    }),
    turnsTotal: new Counter({
      name: 'parley_turns_total',
      help: 'Conversation turns completed, by role and interruption',
      labelNames: ['role', 'interrupted'] as const,
      registers,
    }),
    stageLatencyMs: new Histogram({
      name: 'parley_stage_latency_ms',
      help: 'Latency of each pipeline stage per turn, in milliseconds',
      labelNames: ['stage'] as const,
      buckets: LATENCY_BUCKETS_MS,
      registers,
    }),
    bargeInsTotal: new Counter({ name: 'parley_barge_ins_total', help: 'Caller barge-ins that interrupted the agent', registers }),
    streamErrorsTotal: new Counter({
      name: 'parley_stream_errors_total',
      help: 'Media stream errors, by reason',
      labelNames: ['reason'] as const,
      registers,
    }),
    providerFallbacksTotal: new Counter({
      name: 'parley_provider_fallbacks_total',
      help: 'Switches from a failing or stalled provider to the next in its chain',
      labelNames: ['kind', 'from', 'to'] as const,
      registers,
    }),
  };
}

/** A turn's latency breakdown, exactly as stored with the turn. */
export type TurnLatencyMs = TurnLatency;

const STAGE_OF: ReadonlyArray<readonly [keyof TurnLatencyMs, LatencyStage]> = [
  ['endpointingMs', 'endpointing'],
  ['sttFinalMs', 'stt_final'],
  ['llmFirstTokenMs', 'llm_first_token'],
  ['ttsFirstAudioMs', 'tts_first_audio'],
  ['voiceToVoiceMs', 'voice_to_voice'],
  ['parleyOverheadMs', 'parley_overhead'],
];

/** Observes every measured stage of a turn in `parley_stage_latency_ms`; skips missing or non-finite values. */
export function observeTurnLatency(m: Metrics, latency: TurnLatencyMs): void {
  for (const [key, stage] of STAGE_OF) {
    const v = latency[key];
    if (v !== undefined && Number.isFinite(v) && v >= 0) m.stageLatencyMs.observe({ stage }, v);
  }
}
