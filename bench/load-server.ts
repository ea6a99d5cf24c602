/**
 * The Parley server under test of bench/load.ts, in its own process (which load.ts pins to one
 * core with `taskset`): the compiled server with the demo hotel tenant, its agent pointed at the
 * loopback provider fakes. Driven over the IPC channel:
 *   ← { type: 'listening', url }                      once the server is up
 *   → { type: 'sample', id, gc }  ← { type: 'sample', id, … }   memory, CPU and event-loop use now
 *   → { type: 'alloc-start', minor } / { type: 'alloc-stop', path }   sampling of every allocation (garbage
 *                                                     included; with minor: false, not what young-generation
 *                                                     collections freed) between the two, written to `path`
 *   → { type: 'calibrate' }  ← { type: 'calibrated', ms }   time of a fixed CPU workload on this core
 * Every PROBE_EVERY_MS the server also times a small slice of that workload (scaled to the whole),
 * so the speed of the core *during* the measured window is known; samples carry the probes taken
 * since the previous sample.
 *   → { type: 'close' }                               closes the server and exits
 * Run with --expose-gc so that samples can collect garbage first (memory per call).
 * Config: the PARLEY_LOAD_SERVER environment variable, JSON of LoadServerConfig.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import { performance } from 'node:perf_hooks';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/observability/logger.js';
import { startServer } from '../src/server/server.js';
import { parseTenantDocument } from '../src/tenants/loader.js';
import { coreTimes, statCpuMs } from './proc-stat.js';
import type { AgentConfig, TenantConfig } from '../src/tenants/schema.js';

export interface LoadServerConfig {
  readonly dataDir: string;
  readonly adminKey: string;
  readonly fakes: { readonly deepgram: string; readonly openai: string; readonly elevenlabs: string };
  readonly greeting: string;
  /** Overrides of the agent's endpointing (barge-in thresholds). */
  readonly endpointing: Partial<AgentConfig['endpointing']>;
}

export interface ServerSample {
  readonly type: 'sample';
  readonly id: number;
  readonly atMs: number;
  /** performance.timeOrigin of the server process: atMs and Stall.atMs + this = wall clock. */
  readonly timeOrigin: number;
  readonly rssBytes: number;
  readonly heapUsedBytes: number;
  readonly externalBytes: number;
  readonly cpuUserUs: number;
  readonly cpuSystemUs: number;
  /** performance.eventLoopUtilization() so far (cumulative; diff two samples). */
  readonly elu: { idle: number; active: number };
  /** Calibration probes (ms of the whole workload, scaled) taken since the previous sample. */
  readonly probesMs: number[];
  /** Event-loop stalls longer than STALL_MS since the previous sample: when they ended and how long. */
  readonly stalls: Stall[];
}

export interface Stall {
  /** When it ended (performance.now() of this process) and how long the loop went without a tick. */
  readonly atMs: number;
  readonly ms: number;
  /**
   * Time taken from the process by others around the stall (since the last reading, at most
   * READ_OFF_CPU_EVERY_MS before it began): `waitMs` the main thread sat runnable on the run queue
   * (other threads or processes on its core, this process's own GC helpers included), `stealMs` the
   * hypervisor ran something else on the core, `otherMs` the core was busy with anything but this
   * process (other processes and kernel threads; /proc/stat's 10 ms ticks, so ±10 ms), `irqMs` of
   * the core's time in interrupts and softirqs (loopback networking among them). Undefined where
   * /proc does not tell.
   */
  readonly waitMs?: number;
  readonly stealMs?: number;
  readonly otherMs?: number;
  readonly irqMs?: number;
  /** CPU ms this process's other threads used meanwhile, by thread name (see threadName), where > 5 ms. */
  readonly threads?: Record<string, number>;
}

const CALIBRATION_ITERATIONS = 100_000;
/** A probe is 1/200 of the calibration (~2 ms of work): negligible load, but enough to time. */
const PROBE_ITERATIONS = 500;
const PROBE_EVERY_MS = 2000;

const config = JSON.parse(process.env.PARLEY_LOAD_SERVER ?? '{}') as LoadServerConfig;
const send = (msg: unknown): void => {
  process.send?.(msg);
};

const hotel = parseTenantDocument('hotel.yaml', await readFile(new URL('../../tenants/hotel.yaml', import.meta.url), 'utf8'), {});
const base = hotel.agents.default as AgentConfig;
const tenant = {
  ...hotel,
  agents: {
    default: {
      ...base,
      greeting: config.greeting,
      endpointing: { ...base.endpointing, ...config.endpointing },
      stt: [{ provider: 'deepgram', baseUrl: config.fakes.deepgram, apiKey: 'test-key', finalizeTimeoutMs: 1500 }],
      llm: [{ provider: 'openai', baseUrl: config.fakes.openai, model: 'fake', apiKey: 'x' }],
      tts: [{ provider: 'elevenlabs', baseUrl: config.fakes.elevenlabs, apiKey: 'test-elevenlabs-key', voiceId: 'v' }],
    },
  },
} as TenantConfig;

const server = await startServer({
  // PARLEY_HEAP_GROWTH_PERCENT passes through for experiments (0 = V8's own full-collection schedule).
  config: loadConfig({ PARLEY_HEAP_GROWTH_PERCENT: process.env.PARLEY_HEAP_GROWTH_PERCENT }, { port: 0, host: '127.0.0.1', dataDir: config.dataDir, adminKey: config.adminKey }),
  tenants: [tenant],
  logger: createLogger({ level: 'warn', destination: process.stderr }),
});

const gc = (globalThis as { gc?: () => void }).gc;

/**
 * A fixed slice of the kind of work the server does (JSON, base64, typed arrays): its duration tells
 * how fast this core runs right now. This VM's speed varies with its neighbours, so runs compare
 * only at similar values.
 */
function calibrate(iterations = CALIBRATION_ITERATIONS): number {
  const payload = Buffer.alloc(160, 0x7f).toString('base64');
  const message = JSON.stringify({ event: 'media', sequenceNumber: '1', media: { track: 'inbound', chunk: '1', timestamp: '0', payload }, streamSid: 'MZ0' });
  const samples = new Int16Array(160);
  let sink = 0;
  const started = performance.now();
  for (let i = 0; i < iterations; i++) {
    const m = JSON.parse(message) as { media: { payload: string } };
    const bytes = Buffer.from(m.media.payload, 'base64');
    for (let j = 0; j < bytes.length; j++) samples[j] = (bytes[j] as number) << 4;
    sink += samples[i % 160] as number;
  }
  const ms = ((performance.now() - started) * CALIBRATION_ITERATIONS) / iterations;
  return Math.round(ms * 10) / 10 + (sink === -1 ? 1 : 0);
}

let probes: number[] = [];
setInterval(() => probes.push(calibrate(PROBE_ITERATIONS)), PROBE_EVERY_MS).unref();

/**
 * When the event loop stalled, not just how much (parley_event_loop_delay_ms has the distribution):
 * a 5 ms timer notes every gap longer than STALL_MS, to line up with --trace-gc or a profile.
 */
const STALL_MS = 50;
/** How often the off-CPU counters are read (a dozen small /proc files: ~0.5 % of the core at this rate). */
const READ_OFF_CPU_EVERY_MS = 50;

interface OffCpu {
  readonly waitMs: number;
  readonly stealMs: number;
  /** The core's busy time outside this process (ms, 10 ms ticks), and of the core's time in (soft)irqs. */
  readonly otherMs: number;
  readonly irqMs: number;
}

/** The main thread's run-queue wait and what else its core did, so far (ms), from /proc; undefined off Linux. */
function offCpuMs(): OffCpu | undefined {
  try {
    // schedstat: time on the CPU, time waiting on a run queue (ns), timeslices.
    const waitNs = Number(readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[1]);
    const core = `cpu${serverCore()} `;
    const line = readFileSync('/proc/stat', 'utf8').split('\n').find((l) => l.startsWith(core));
    if (line === undefined || !Number.isFinite(waitNs)) return undefined;
    const times = coreTimes(line);
    const selfMs = statCpuMs(readFileSync('/proc/self/stat', 'utf8'));
    if (!Number.isFinite(times.busyMs) || !Number.isFinite(times.stealMs) || !Number.isFinite(selfMs)) return undefined;
    return { waitMs: waitNs / 1e6, stealMs: times.stealMs, otherMs: times.busyMs - selfMs, irqMs: times.irqMs };
  } catch {
    return undefined;
  }
}

/** The core this process is pinned to (load.ts pins it with taskset), or 0. */
let pinnedCore: number | undefined;
function serverCore(): number {
  if (pinnedCore === undefined) {
    const allowed = /Cpus_allowed_list:\s*(\d+)\s*$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    pinnedCore = allowed ? Number(allowed[1]) : 0;
  }
  return pinnedCore;
}

/** CPU time (ms) of each thread of this process but the main one, by thread id. */
function threadCpuMs(): Map<string, number> {
  const out = new Map<string, number>();
  try {
    for (const tid of readdirSync('/proc/self/task')) {
      if (tid === String(process.pid)) continue;
      out.set(tid, statCpuMs(readFileSync(`/proc/self/task/${tid}/stat`, 'utf8')));
    }
  } catch {
    // threads come and go; a partial reading is still a reading
  }
  return out;
}

/**
 * Thread names for stall reports, by the order Node 20 starts its threads (checked by burning CPU in
 * GC and compilation and reading each thread's time): the SIGUSR1 watcher (`signal`), V8's platform
 * workers (GC helpers, background compilation: `v8-1`…`v8-4` with the default --v8-pool-size),
 * the platform's delayed-task scheduler (`v8-delayed`), then later threads (`later-N`: libuv's pool,
 * worker threads such as the SQLite checkpointer).
 */
function threadName(tid: string, all: Iterable<string>): string {
  const rank = [...all].map(Number).sort((a, b) => a - b).indexOf(Number(tid));
  if (rank === 0) return 'signal';
  if (rank <= V8_POOL_SIZE) return `v8-${rank}`;
  if (rank === V8_POOL_SIZE + 1) return 'v8-delayed';
  return `later-${rank - V8_POOL_SIZE - 1}`;
}
/** --v8-pool-size as this process was started with (Node's default 4). */
const V8_POOL_SIZE = Number(/--v8-pool-size=(\d+)/.exec(process.execArgv.join(' '))?.[1] ?? 4);

let stalls: Stall[] = [];
let lastTick = performance.now();
let lastOffCpu = offCpuMs();
let lastThreads = threadCpuMs();
let lastOffCpuAt = lastTick;
setInterval(() => {
  const now = performance.now();
  const stalled = now - lastTick > STALL_MS;
  if (stalled || now - lastOffCpuAt >= READ_OFF_CPU_EVERY_MS) {
    const off = offCpuMs();
    const threads = threadCpuMs();
    if (stalled) {
      const blame =
        off && lastOffCpu
          ? {
              waitMs: Math.round(off.waitMs - lastOffCpu.waitMs),
              stealMs: off.stealMs - lastOffCpu.stealMs,
              otherMs: off.otherMs - lastOffCpu.otherMs,
              irqMs: off.irqMs - lastOffCpu.irqMs,
            }
          : {};
      const busy: Record<string, number> = {};
      for (const [tid, ms] of threads) {
        const used = ms - (lastThreads.get(tid) ?? 0);
        if (used > 5) busy[threadName(tid, threads.keys())] = used;
      }
      stalls.push({ atMs: Math.round(now), ms: Math.round(now - lastTick), ...blame, threads: busy });
    }
    lastOffCpu = off;
    lastThreads = threads;
    lastOffCpuAt = now;
  }
  lastTick = now;
}, 5).unref();

/** Where the garbage comes from: allocation sampling that keeps collected objects. */
const allocSampling = {
  session: undefined as Session | undefined,
  async start(minor: boolean): Promise<void> {
    const session = new Session();
    session.connect();
    this.session = session;
    await session.post('HeapProfiler.startSampling', { samplingInterval: 16384, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: minor });
  },
  async stop(path: string): Promise<void> {
    const session = this.session;
    if (!session) return;
    const { profile } = (await session.post('HeapProfiler.stopSampling')) as { profile: unknown };
    await writeFile(path, JSON.stringify(profile));
    session.disconnect();
    this.session = undefined;
  },
};
process.on('message', (msg: { type: string; id?: number; gc?: boolean; minor?: boolean }) => {
  if (msg.type === 'sample') {
    if (msg.gc && gc) {
      gc();
      gc();
    }
    const mem = process.memoryUsage();
    const cpu = process.cpuUsage();
    const elu = performance.eventLoopUtilization();
    const sample: ServerSample = {
      type: 'sample',
      id: msg.id ?? 0,
      atMs: performance.now(),
      timeOrigin: performance.timeOrigin,
      rssBytes: mem.rss,
      heapUsedBytes: mem.heapUsed,
      externalBytes: mem.external,
      cpuUserUs: cpu.user,
      cpuSystemUs: cpu.system,
      elu: { idle: elu.idle, active: elu.active },
      probesMs: probes,
      stalls,
    };
    probes = [];
    stalls = [];
    send(sample);
  } else if (msg.type === 'calibrate') {
    send({ type: 'calibrated', ms: calibrate() });
  } else if (msg.type === 'alloc-start') {
    void allocSampling.start(msg.minor !== false);
  } else if (msg.type === 'alloc-stop') {
    void allocSampling.stop((msg as { path?: string }).path ?? 'alloc.heapprofile').then(() => send({ type: 'alloc-written' }));
  } else if (msg.type === 'close') {
    void server.close().finally(() => process.exit(0));
  }
});
process.on('disconnect', () => process.exit(0));
send({ type: 'listening', url: server.url });
