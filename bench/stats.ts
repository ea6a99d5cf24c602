import { monitorEventLoopDelay } from 'node:perf_hooks';

/** Summaries the benchmarks print: nearest-rank percentiles over per-turn figures. */

export interface Summary {
  n: number;
  p50: number | null;
  p95: number | null;
  p99: number | null;
  max: number | null;
}

export function percentile(values: readonly number[], p: number): number | null {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? null;
}

export function summary(values: readonly number[]): Summary {
  if (values.length === 0) return { n: 0, p50: null, p95: null, p99: null, max: null };
  const s = [...values].sort((a, b) => a - b);
  const at = (p: number): number => s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] as number;
  return { n: s.length, p50: at(50), p95: at(95), p99: at(99), max: s[s.length - 1] as number };
}

/**
 * Counts of millisecond values in 1 ms buckets (0 … `maxMs`, the last bucket holding everything
 * above): recording allocates nothing, and histograms from several processes merge by adding counts.
 */
export class MsHistogram {
  readonly counts: Uint32Array;
  total = 0;
  max = 0;

  constructor(readonly maxMs = 2000) {
    this.counts = new Uint32Array(maxMs + 1);
  }

  record(ms: number): void {
    const v = ms < 0 ? 0 : ms;
    const i = v >= this.maxMs ? this.maxMs : Math.round(v);
    this.counts[i]!++;
    this.total++;
    if (v > this.max) this.max = v;
  }

  /** Adds another histogram's counts (e.g. one sent over IPC as a plain array). */
  merge(counts: ArrayLike<number>, max: number): void {
    for (let i = 0; i < this.counts.length && i < counts.length; i++) {
      const c = counts[i] as number;
      this.counts[i]! += c;
      this.total += c;
    }
    if (max > this.max) this.max = max;
  }

  /** Nearest-rank percentile in whole ms, or null when empty. */
  percentile(p: number): number | null {
    if (this.total === 0) return null;
    const rank = Math.min(this.total, Math.floor((p / 100) * this.total) + 1);
    let seen = 0;
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i] as number;
      if (seen >= rank) return i;
    }
    return this.maxMs;
  }

  /** Values above `ms`. */
  countAbove(ms: number): number {
    let n = 0;
    for (let i = Math.floor(ms) + 1; i < this.counts.length; i++) n += this.counts[i] as number;
    return n;
  }

  summary(): Summary {
    return { n: this.total, p50: this.percentile(50), p95: this.percentile(95), p99: this.percentile(99), max: this.total ? Math.round(this.max) : null };
  }
}

/** Reads one sample of a metric from a Prometheus text exposition (`name` or `name{labels}` exactly). */
export function promSample(text: string, series: string): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1));
  }
  return undefined;
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
