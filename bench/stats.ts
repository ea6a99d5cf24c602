import { monitorEventLoopDelay } from 'node:perf_hooks';

/** Summaries the benchmarks print: nearest-rank percentiles over per-turn figures. */

export interface Summary {
  n: number;
  p50: number | null;
  p95: number | null;
  max: number | null;
}

export function percentile(values: readonly number[], p: number): number | null {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? null;
}

export function summary(values: readonly number[]): Summary {
  return { n: values.length, p50: percentile(values, 50), p95: percentile(values, 95), max: values.length ? Math.max(...values) : null };
}

/** A stored turn's latency as the API returns it. */
export interface Latency {
  voiceToVoiceMs: number | null;
  parleyOverheadMs: number | null;
  sttFinalMs: number | null;
  llmFirstTokenMs: number | null;
  ttsFirstAudioMs: number | null;
  endpointingMs: number | null;
}

/** What the whole process spent while a scenario ran (simulated callers included). */
export interface ProcessCost {
  wallS: number;
  /** user + system CPU of every thread, as a share of one core. */
  processCpuPercent: number;
  peakRssMb: number;
  eventLoopDelayP99Ms: number;
}

/** Runs `scenario` while sampling CPU, peak RSS and event-loop delay. */
export async function measureProcess<T>(scenario: () => Promise<T>): Promise<{ result: T; cost: ProcessCost }> {
  const startedAt = performance.now();
  const cpuBefore = process.cpuUsage();
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();
  let peakRssBytes = process.memoryUsage().rss;
  const rssTimer = setInterval(() => {
    peakRssBytes = Math.max(peakRssBytes, process.memoryUsage().rss);
  }, 250);
  try {
    const result = await scenario();
    const wallMs = performance.now() - startedAt;
    const cpu = process.cpuUsage(cpuBefore);
    return {
      result,
      cost: {
        wallS: Math.round(wallMs / 100) / 10,
        processCpuPercent: Math.round(((cpu.user + cpu.system) / 1000 / wallMs) * 1000) / 10,
        peakRssMb: Math.round(peakRssBytes / 1e6),
        eventLoopDelayP99Ms: Math.round(loopDelay.percentile(99) / 1e4) / 100,
      },
    };
  } finally {
    loopDelay.disable();
    clearInterval(rssTimer);
  }
}

/** The latency of every answered agent turn of these calls, read back through the API. */
export async function answerLatencies(baseUrl: string, adminKey: string, callSids: readonly string[]): Promise<Latency[]> {
  const latencies: Latency[] = [];
  for (const sid of callSids) {
    const res = await fetch(`${baseUrl}/v1/calls/${sid}`, { headers: { authorization: `Bearer ${adminKey}` } });
    const call = (await res.json()) as { turns: { role: string; latency?: Latency | null }[] };
    for (const t of call.turns) if (t.role === 'agent' && t.latency && t.latency.voiceToVoiceMs !== null) latencies.push(t.latency);
  }
  return latencies;
}

/** One latency stage across turns, measured values only. */
export function stage(latencies: readonly Latency[], k: keyof Latency): number[] {
  return latencies.map((l) => l[k]).filter((v): v is number => typeof v === 'number');
}
