/**
 * Prometheus metrics. Each call to createMetrics() builds its own Registry (never prom-client's
 * global one) so several apps can coexist in one process, e.g. in tests.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
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
  /** Barge-ins taken back: the agent went on (a backchannel, no words, its own echo), by reason and by which transcript decided. */
  readonly bargeInResumesTotal: Counter<'reason' | 'decided_on'>;
  readonly speechOverAgentIgnoredTotal: Counter<'reason'>;
  readonly callerContinuedTotal: Counter<'reply_phase'>;
  /** Media stream failures, by reason. */
  readonly streamErrorsTotal: Counter<'reason'>;
  /** Provider fallbacks: a chain moved from one provider to the next. */
  readonly providerFallbacksTotal: Counter<'kind' | 'from' | 'to'>;
  /**
   * Event-loop delay since the previous scrape, in ms, by quantile ('0.5', '0.99', 'max'): how late
   * a timer due now would fire. Every call's audio shares this loop, so this is the latency floor
   * of the whole server. Absent when created with `collectDefaults: false`.
   */
  readonly eventLoopDelayMs: Gauge<'quantile'> | undefined;
}

export interface CreateMetricsOptions {
  /** Register default Node process metrics (CPU, memory, event loop, GC). Default true. */
  collectDefaults?: boolean;
}

/** Sampling period of the event-loop delay monitor. */
const EVENT_LOOP_RESOLUTION_MS = 10;

/**
 * `parley_event_loop_delay_ms`: unlike prom-client's nodejs_eventloop_lag_* (which report the
 * monitor's whole timer interval, so an idle loop reads ~10 ms), this is the delay beyond the
 * sampling period: an idle loop reads ~0. Reset at every scrape.
 */
function eventLoopDelayGauge(registers: Registry[]): Gauge<'quantile'> {
  const histogram = monitorEventLoopDelay({ resolution: EVENT_LOOP_RESOLUTION_MS });
  histogram.enable();
  const delayMs = (ns: number): number => Math.max(0, ns / 1e6 - EVENT_LOOP_RESOLUTION_MS);
  return new Gauge({
    name: 'parley_event_loop_delay_ms',
    help: 'Event-loop delay since the previous scrape (beyond the 10 ms sampling period), in milliseconds',
    labelNames: ['quantile'] as const,
    registers,
    collect() {
      if (histogram.count === 0) return;
      this.set({ quantile: '0.5' }, delayMs(histogram.percentile(50)));
      this.set({ quantile: '0.99' }, delayMs(histogram.percentile(99)));
      this.set({ quantile: 'max' }, delayMs(histogram.max));
      histogram.reset();
    },
  });
}

/** Creates a fresh registry with Parley's metrics. */
export function createMetrics(o: CreateMetricsOptions = {}): Metrics {
  const registry = new Registry();
  const registers = [registry];
  const defaults = o.collectDefaults ?? true;
  if (defaults) collectDefaultMetrics({ register: registry });
  return {
    eventLoopDelayMs: defaults ? eventLoopDelayGauge(registers) : undefined,
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
    bargeInResumesTotal: new Counter({
      name: 'parley_barge_in_resumes_total',
      help: 'Barge-ins after which the agent went on where it stopped, by reason (backchannel, no_words, echo) and deciding transcript (partial, final)',
      labelNames: ['reason', 'decided_on'] as const,
      registers,
    }),
    callerContinuedTotal: new Counter({
      name: 'parley_caller_continued_total',
      help: 'Turns the caller went on with after endpointing had ended them, merged into one: the reply was dropped while thinking, or its false start while speaking (endpointing.continuationWindowMs). Many of them: the silences are too short for these callers',
      labelNames: ['reply_phase'] as const,
      registers,
    }),
    speechOverAgentIgnoredTotal: new Counter({
      name: 'parley_speech_over_agent_ignored_total',
      help: 'Caller speech the agent talked through (endpointing.interruptMinWords): it ended without enough words to interrupt, by reason (backchannel, too_few_words, no_words, echo)',
      labelNames: ['reason'] as const,
      registers,
    }),
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
