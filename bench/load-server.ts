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
import { readFile, writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import { performance } from 'node:perf_hooks';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/observability/logger.js';
import { startServer } from '../src/server/server.js';
import { parseTenantDocument } from '../src/tenants/loader.js';
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
  readonly stalls: { atMs: number; ms: number }[];
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
let stalls: { atMs: number; ms: number }[] = [];
let lastTick = performance.now();
setInterval(() => {
  const now = performance.now();
  if (now - lastTick > STALL_MS) stalls.push({ atMs: Math.round(now), ms: Math.round(now - lastTick) });
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
