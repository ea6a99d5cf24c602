/**
 * Load: how many concurrent phone calls one core of Parley sustains, and what each costs.
 *
 * N simulated Twilio calls over real WebSockets, each sending real-time paced 20 ms mu-law audio
 * and playing the agent's audio like a handset, against Deepgram / OpenAI / ElevenLabs faked on
 * loopback at realistic latencies. The server runs in its own process pinned to core 0
 * (`taskset -c 0`, bench/load-server.ts); this process (fakes) and the caller processes
 * (bench/load-callers.ts, up to CALLERS_PER_PROCESS calls each) run on core 1.
 *
 * Each level: the calls dial in at DIAL_RATE per second, hear the greeting and stay connected,
 * silent (idle-call memory is measured then); then each says three lines (starting within
 * GO_SPREAD_MS), waiting for each reply; every INTERRUPT_EVERY-th call talks over the second
 * reply (barge-in). All calls stay connected until the last script finishes, then hang up.
 * Server CPU, RSS and event-loop delay (parley_event_loop_delay_ms from /metrics) cover that
 * active window; voice-to-voice and Parley's overhead are read back from the stored turns.
 *
 * Prints one JSON document on stdout (logs on stderr).
 * Usage: node dist/bench/load.js [--calls 1,100,500] [--dial-rate 50] [--profile] [--heap-profile]
 *   --profile       writes a V8 CPU profile of the server per level (directory on stderr);
 *   --heap-profile  a sampling heap profile (live objects at exit) instead;
 *   --alloc-profile where the active window's allocations come from (garbage included);
 *   --promoted-profile the same without what young-generation collections freed: what survives into
 *                   the old generation (and makes full collections).
 */
import { type ChildProcess, execFileSync, fork, spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { speakWithFlite } from '../src/audio/flite-voice.js';
import { mulawEncode } from '../src/audio/mulaw.js';
import { PACER_LEAD_MS } from '../src/pipeline/pacer.js';
import { startFakeDeepgram, type FakeDeepgramUtterance } from '../test/fakes/deepgram-server.js';
import { startFakeElevenLabs } from '../test/fakes/elevenlabs-server.js';
import { openAiChunk, startFakeOpenAi } from '../test/fakes/openai-server.js';
import { attributeLateFrames, watchStalls } from './late-frames.js';
import { coreTimes, statCpuMs } from './proc-stat.js';
import type { CallerAudio, CallerInit, CallerReport } from './load-callers.js';
import type { LoadServerConfig, ServerSample, Stall } from './load-server.js';
import { answerLatencies, type Latency, MsHistogram, percentile, promSample, stage, summary } from './stats.js';

const ADMIN_KEY = 'bench-key';
const NUMBER = '+15550100000';
const DEFAULT_LEVELS = '1,100,500';
const DIAL_RATE = 50;
const CALLERS_PER_PROCESS = 250;
const GO_SPREAD_MS = 5_000;
const INTERRUPT_EVERY = 4;
/** Realistic provider latencies the fakes answer at (as bench/provider-overhead.ts). */
const PROVIDER_LATENCY = { sttFinalMs: 150, llmFirstTokenMs: 300, ttsFirstAudioMs: 150 } as const;
const NOMINAL_PROVIDERS_MS = PROVIDER_LATENCY.sttFinalMs + PROVIDER_LATENCY.llmFirstTokenMs + PROVIDER_LATENCY.ttsFirstAudioMs;
/** Parley sends Deepgram 100 ms audio messages: an interim result per second of audio. */
const DEEPGRAM_INTERIM_EVERY_MESSAGES = 10;
/** Audio the TTS fake returns per sentence. */
const SENTENCE_AUDIO_MS = 1000;
const CALLER_LINES = ['what time is breakfast', 'when does the pool open', 'do you have parking'] as const;
const INTERRUPTION = 'sorry, can I ask something else';
/**
 * Barge-in thresholds of the bench agent (the defaults are minSpeechMs 100, bargeInMs 150): the
 * reaction measured here is the threshold plus Parley's own delay.
 */
const ENDPOINTING = { minSpeechMs: 60, bargeInMs: 60 } as const;
const JITTER_BUDGET_MS = 60;
/** A stall of the fakes' process (this one) this long can make a frame late on its own. */
const FAKES_STALL_MS = 40;
/**
 * Calibration time of a "reference" core (about this VM at its faster moments): CPU use is also
 * reported scaled to it, cpu% × reference / the calibration measured during the window.
 */
const REFERENCE_CALIBRATION_MS = 300;
const TARGETS = { calls: 500, overheadP99Ms: 25, overheadP50At100Ms: 5, bargeInP95Ms: 120, idleMbPerCall: 1 } as const;

const here = fileURLToPath(new URL('.', import.meta.url));
const log = (line: string): void => {
  process.stderr.write(`[load ${(performance.now() / 1000).toFixed(1)}s] ${line}\n`);
};
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
}

/** Pins this process (and so the fakes and the caller processes it forks) to `core`. */
function pinSelf(core: number): boolean {
  try {
    execFileSync('taskset', ['-a', '-p', '-c', String(core), String(process.pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

// ---------- what else ran on the machine (Linux /proc) ----------

/** How often, and how long at most, the fakes' process (this one) stalled during the window. */
function stallSummary(stalls: readonly { ms: number }[]): { count: number; maxMs: number } {
  return { count: stalls.length, maxMs: stalls.reduce((m, s) => Math.max(m, s.ms), 0) };
}

/** Busy CPU time (ms, steal included) of each core and in total, from /proc/stat; undefined where unavailable. */
async function coreBusyMs(): Promise<number[] | undefined> {
  try {
    const text = await readFile('/proc/stat', 'utf8');
    return text
      .split('\n')
      .filter((l) => /^cpu\d* /.test(l))
      .map((l) => {
        const t = coreTimes(l);
        return t.busyMs + t.stealMs;
      });
  } catch {
    return undefined;
  }
}

/** CPU time (ms) a process has used, from /proc/<pid>/stat. */
async function processCpuMs(pid: number | undefined): Promise<number> {
  if (pid === undefined) return 0;
  try {
    return statCpuMs(await readFile(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return 0;
  }
}

// ---------- caller audio, synthesised once ----------

const LINE_NOISE_PEAK = 24;

function addLineNoise(frame: Int16Array, state: { seed: number }): void {
  for (let i = 0; i < frame.length; i++) {
    state.seed = (Math.imul(state.seed, 1103515245) + 12345) >>> 0;
    const noise = ((state.seed >>> 16) / 0xffff - 0.5) * 2 * LINE_NOISE_PEAK;
    frame[i] = Math.max(-32768, Math.min(32767, (frame[i] as number) + Math.round(noise)));
  }
}

/** Speech trimmed to its voiced part, in base64 mu-law 20 ms frames with line noise mixed in. */
function toFrames(samples: Int16Array, noise: { seed: number }): string[] {
  const loud = (i: number): boolean => Math.abs(samples[i] as number) > 400;
  let start = 0;
  while (start < samples.length && !loud(start)) start++;
  let end = samples.length;
  while (end > start && !loud(end - 1)) end--;
  const frames: string[] = [];
  for (let off = start; off < end; off += 160) {
    const frame = new Int16Array(160);
    frame.set(samples.subarray(off, Math.min(end, off + 160)));
    addLineNoise(frame, noise);
    frames.push(Buffer.from(mulawEncode(frame)).toString('base64'));
  }
  return frames;
}

async function callerAudio(): Promise<CallerAudio> {
  const noise = { seed: 0x5eed };
  const speech = await Promise.all([...CALLER_LINES, INTERRUPTION].map((t) => speakWithFlite(t, { sampleRateHz: 8000 })));
  const lines = speech.slice(0, CALLER_LINES.length).map((s) => toFrames(s, noise));
  const interrupt = toFrames(speech[CALLER_LINES.length] as Int16Array, noise);
  const quiet: string[] = [];
  for (let i = 0; i < 50; i++) {
    const frame = new Int16Array(160);
    addLineNoise(frame, noise);
    quiet.push(Buffer.from(mulawEncode(frame)).toString('base64'));
  }
  return { lines, interrupt, noise: quiet };
}

// ---------- fakes (in this process, core 1) ----------

async function startFakes(calls: number) {
  // Interim results as Deepgram sends them (interim_results=true): about one a second of audio, the
  // words so far; the adaptive endpointing reads them (a finished question ends its turn sooner).
  const utterances: FakeDeepgramUtterance[] = Array.from({ length: calls * 8 + 16 }, (_, i) => {
    const line = CALLER_LINES[i % CALLER_LINES.length] as string;
    return { interim: [line.split(' ').slice(0, 2).join(' '), line], finals: [line] };
  });
  const deepgram = await startFakeDeepgram({ utterances, interimEveryAudioMessages: DEEPGRAM_INTERIM_EVERY_MESSAGES, finalizeDelayMs: PROVIDER_LATENCY.sttFinalMs });
  const openai = await startFakeOpenAi({
    chunks: [
      openAiChunk({ role: 'assistant', content: '' }, null, PROVIDER_LATENCY.llmFirstTokenMs),
      openAiChunk({ content: 'Certainly.' }),
      openAiChunk({ content: ' Breakfast is served from seven to ten' }),
      openAiChunk({ content: ' in the lobby restaurant.' }),
      openAiChunk({ content: ' Is there anything else I can help with?' }),
      openAiChunk({}, 'stop'),
    ],
  });
  const elevenlabs = await startFakeElevenLabs({ firstAudioDelayMs: PROVIDER_LATENCY.ttsFirstAudioMs, audioMsPerChunk: SENTENCE_AUDIO_MS });
  return {
    urls: { deepgram: deepgram.url, openai: openai.url, elevenlabs: elevenlabs.url },
    async close(): Promise<void> {
      await Promise.all([deepgram.close(), openai.close(), elevenlabs.close()]);
    },
  };
}

// ---------- the server process (core 0) ----------

interface ServerProcess {
  readonly child: ChildProcess;
  /** Duration (ms) of a fixed CPU workload on the server's core now. */
  calibrate(): Promise<number>;
  readonly url: string;
  readonly pid: number | undefined;
  sample(gc: boolean): Promise<ServerSample>;
  close(): Promise<void>;
}

async function startServerProcess(config: LoadServerConfig, pinned: boolean, profile: { dir: string; kind: 'cpu' | 'heap' } | undefined, logPath: string): Promise<ServerProcess> {
  const profileArgs = profile ? [`--${profile.kind}-prof`, `--${profile.kind}-prof-dir=${profile.dir}`] : [];
  // LOAD_SERVER_NODE_ARGS: extra node/V8 flags for the server process (experiments, e.g. GC sizing).
  const extraArgs = (process.env.LOAD_SERVER_NODE_ARGS ?? '').split(/\s+/).filter((a) => a !== '');
  const nodeArgs = ['--expose-gc', ...extraArgs, ...profileArgs, join(here, 'load-server.js')];
  const [cmd, args] = pinned ? ['taskset', ['-c', '0', process.execPath, ...nodeArgs]] : [process.execPath, nodeArgs];
  const child = spawn(cmd as string, args as string[], {
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    env: { ...process.env, PARLEY_LOAD_SERVER: JSON.stringify(config) },
  });
  // stdout too: V8 tracing flags (LOAD_SERVER_NODE_ARGS=--trace-gc) print there.
  const log = createWriteStream(logPath);
  child.stdout?.pipe(log, { end: false });
  child.stderr?.pipe(log);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let seq = 0;
  const waiting = new Map<number, (s: ServerSample) => void>();
  const url = await new Promise<string>((resolve, reject) => {
    child.on('message', (msg: { type: string; url?: string; id?: number }) => {
      if (msg.type === 'listening') resolve(msg.url as string);
      else if (msg.type === 'sample') waiting.get(msg.id as number)?.(msg as unknown as ServerSample);
    });
    child.once('exit', (code) => reject(new Error(`server exited with ${code}; see ${logPath}`)));
  });
  return {
    child,
    calibrate() {
      return new Promise((resolve) => {
        const on = (m: { type: string; ms?: number }): void => {
          if (m.type !== 'calibrated') return;
          child.off('message', on);
          resolve(m.ms ?? 0);
        };
        child.on('message', on);
        child.send({ type: 'calibrate' });
      });
    },
    url,
    pid: child.pid,
    sample(gc) {
      const id = ++seq;
      return new Promise((resolve) => {
        waiting.set(id, (s) => {
          waiting.delete(id);
          resolve(s);
        });
        child.send({ type: 'sample', id, gc });
      });
    },
    async close() {
      if (child.connected) child.send({ type: 'close' });
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([exited, new Promise<void>((r) => (timer = setTimeout(r, 15_000)))]);
      clearTimeout(timer);
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}

// ---------- caller processes (core 1) ----------

interface CallerProcess {
  readonly child: ChildProcess;
  next<T>(type: string, timeoutMs: number): Promise<T>;
}

function startCallerProcess(): CallerProcess {
  const child = fork(join(here, 'load-callers.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const inbox: { type: string }[] = [];
  const waiters: (() => void)[] = [];
  child.on('message', (m: { type: string }) => {
    inbox.push(m);
    for (const w of waiters.splice(0)) w();
  });
  return {
    child,
    async next<T>(type: string, timeoutMs: number): Promise<T> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const i = inbox.findIndex((m) => m.type === type);
        if (i >= 0) return inbox.splice(i, 1)[0] as T;
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`caller process: no '${type}' within ${timeoutMs} ms`);
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, 1000).unref();
        });
      }
    },
  };
}

/** Caller processes for `calls` calls (CALLERS_PER_PROCESS each), dialling `baseUrl` at once. */
function startCallers(baseUrl: string, calls: number, audio: CallerAudio, dialIntervalMs: number): CallerProcess[] {
  const procs = Math.max(1, Math.ceil(calls / CALLERS_PER_PROCESS));
  const callers: CallerProcess[] = [];
  for (let p = 0; p < procs; p++) {
    const c = startCallerProcess();
    callers.push(c);
    const init: CallerInit = {
      type: 'init',
      baseUrl,
      to: NUMBER,
      firstIndex: p,
      stride: procs,
      count: Math.ceil((calls - p) / procs),
      dialIntervalMs,
      goSpreadMs: calls > 1 ? GO_SPREAD_MS : 0,
      audio,
      interruptEvery: INTERRUPT_EVERY,
      interruptLine: 1,
      interruptAfterMs: 600,
      framesPerSentence: Math.ceil((SENTENCE_AUDIO_MS * 8) / 160),
      leadMs: PACER_LEAD_MS,
      jitterBudgetMs: JITTER_BUDGET_MS,
      quietMs: 800,
      replyTimeoutMs: 10_000,
      thinkMs: [200, 800],
    };
    c.child.send(init);
  }
  return callers;
}

// ---------- one level ----------

/** Collections of one kind between two /metrics texts: how many, and their mean main-thread pause. */
function gcDelta(before: string, after: string, kind: 'major' | 'minor'): { count: number; meanPauseMs: number | null } {
  const read = (text: string, what: 'count' | 'sum'): number => promSample(text, `nodejs_gc_duration_seconds_${what}{kind="${kind}"}`) ?? 0;
  const count = read(after, 'count') - read(before, 'count');
  const seconds = read(after, 'sum') - read(before, 'sum');
  return { count, meanPauseMs: count > 0 ? Math.round((seconds / count) * 10_000) / 10 : null };
}

const mb = (bytes: number): number => Math.round(bytes / 1e5) / 10;
const round1 = (v: number): number => Math.round(v * 10) / 10;

async function runLevel(calls: number, audio: CallerAudio, o: { pinned: boolean; profile: 'cpu' | 'heap' | undefined; allocProfile: false | 'all' | 'promoted'; dialRate: number }) {
  const startedAt = performance.now();
  const fakes = await startFakes(calls);
  const dataDir = await mkdtemp(join(tmpdir(), 'parley-load-'));
  const profileDir = o.profile ? join(dataDir, 'profile') : undefined;
  const server = await startServerProcess(
    { dataDir, adminKey: ADMIN_KEY, fakes: fakes.urls, greeting: 'Seaview Hotel, how can I help?', endpointing: ENDPOINTING },
    o.pinned,
    profileDir && o.profile ? { dir: profileDir, kind: o.profile } : undefined,
    join(dataDir, 'server.log'),
  );
  const callers: CallerProcess[] = [];
  try {
    // Let start-up garbage go before measuring what the server costs with no calls.
    await sleep(1000);
    const calibrationMs = await server.calibrate();
    const baseline = await server.sample(true);
    const dialIntervalMs = 1000 / o.dialRate;
    callers.push(...startCallers(server.url, calls, audio, dialIntervalMs));
    const rampMs = calls * dialIntervalMs;
    const ready = await Promise.all(callers.map((c) => c.next<{ greeted: number; failed: number }>('ready', rampMs + 30_000)));
    log(`${calls} calls: ${ready.reduce((n, r) => n + r.greeted, 0)} connected and greeted after ${Math.round(performance.now() - startedAt)} ms`);
    await sleep(2000);
    const idle = await server.sample(true);

    // The active window: every call says its lines.
    const metricsBefore = await fetch(`${server.url}/metrics`).then((r) => r.text());
    const ourPids = [process.pid, ...callers.map((c) => c.child.pid), server.pid];
    const busyBefore = await coreBusyMs();
    const oursBefore = await Promise.all(ourPids.map(processCpuMs));
    const before = await server.sample(false);
    let peakRss = before.rssBytes;
    const windowProbes: number[] = [];
    const windowStalls: Stall[] = [];
    const peakTimer = setInterval(() => {
      void server.sample(false).then((s) => {
        peakRss = Math.max(peakRss, s.rssBytes);
        windowProbes.push(...s.probesMs);
        windowStalls.push(...s.stalls);
      });
    }, 1000);
    if (o.allocProfile) server.child.send({ type: 'alloc-start', minor: o.allocProfile === 'all' });
    // The fakes run in this process: its stalls delay the server's audio too.
    const fakesWatch = watchStalls(FAKES_STALL_MS);
    for (const c of callers) c.child.send({ type: 'go' });
    const reports = await Promise.all(callers.map((c) => c.next<CallerReport>('done', 180_000)));
    clearInterval(peakTimer);
    fakesWatch.stop();
    const after = await server.sample(false);
    windowProbes.push(...after.probesMs);
    windowStalls.push(...after.stalls);
    if (o.allocProfile) {
      const path = join(dataDir, 'alloc.heapprofile');
      const written = new Promise<void>((resolve) => server.child.once('message', () => resolve()));
      server.child.send({ type: 'alloc-stop', path });
      await written;
      log(`allocation profile in ${path}`);
    }
    const busyAfter = await coreBusyMs();
    const oursAfter = await Promise.all(ourPids.map(processCpuMs));
    const metricsText = await fetch(`${server.url}/metrics`).then((r) => r.text());
    peakRss = Math.max(peakRss, after.rssBytes);
    for (const c of callers) c.child.send({ type: 'hangup' });
    await Promise.all(callers.map((c) => c.next('closed', 20_000).catch(() => undefined)));
    await sleep(500);

    const callSids = reports.flatMap((r) => r.callSids);
    const latencies = await answerLatencies(server.url, ADMIN_KEY, callSids);
    const pick = (k: keyof Latency): number[] => stage(latencies, k);
    const sum = (k: keyof CallerReport): number => reports.reduce((n, r) => n + (r[k] as number), 0);
    const lateness = new MsHistogram(2000);
    const callerLoop = new MsHistogram(2000);
    for (const r of reports) {
      lateness.merge(r.lateness.counts, r.lateness.max);
      callerLoop.merge(r.loopDelay.counts, r.loopDelay.max);
    }
    const windowMs = after.atMs - before.atMs;
    const cpuMs = (after.cpuUserUs + after.cpuSystemUs - before.cpuUserUs - before.cpuSystemUs) / 1000;
    const eluActive = after.elu.active - before.elu.active;
    const eluTotal = eluActive + after.elu.idle - before.elu.idle;
    const interrupters = Math.ceil(calls / INTERRUPT_EVERY);
    const callerWall = Math.max(...reports.map((r) => r.wallMs));
    // Other work on the machine during the window (other jobs share this VM): busy time not ours.
    const busy = (i: number): number => ((busyAfter?.[i] ?? 0) - (busyBefore?.[i] ?? 0));
    const ours = oursAfter.reduce((n, v) => n + v, 0) - oursBefore.reduce((n, v) => n + v, 0);
    const serverCpuMs = (oursAfter.at(-1) ?? 0) - (oursBefore.at(-1) ?? 0);
    const windowCalibrationMs = percentile(windowProbes, 50);
    const machine = busyBefore && busyAfter
      ? {
          calibrationMs,
          windowCalibrationMs,
          otherLoadPercent: Math.max(0, round1(((busy(0) - ours) / windowMs) * 100)),
          serverCoreOtherLoadPercent: o.pinned ? Math.max(0, round1(((busy(1) - serverCpuMs) / windowMs) * 100)) : null,
          fakesStalls: stallSummary(fakesWatch.stalls),
        }
      : { calibrationMs, windowCalibrationMs, fakesStalls: stallSummary(fakesWatch.stalls) };
    return {
      concurrentCalls: calls,
      callsSustained: sum('completed'),
      callsGreeted: sum('greeted'),
      callsFailed: sum('failed'),
      failures: reports.flatMap((r) => r.failures).slice(0, 10),
      replyTimeouts: sum('replyTimeouts'),
      activeWindowS: round1(windowMs / 1000),
      server: {
        cpuPercent: round1((cpuMs / windowMs) * 100),
        /** The same work on a core running the calibration in REFERENCE_CALIBRATION_MS: compares across the VM's speed swings. */
        cpuPercentAtReferenceSpeed: windowCalibrationMs ? round1((cpuMs / windowMs) * 100 * (REFERENCE_CALIBRATION_MS / windowCalibrationMs)) : null,
        /** Of which in the kernel (socket reads and writes). */
        cpuSystemPercent: round1(((after.cpuSystemUs - before.cpuSystemUs) / 1000 / windowMs) * 100),
        eventLoopUtilization: Math.round((eluActive / eluTotal) * 100) / 100,
        eventLoopDelayP99Ms: promSample(metricsText, 'parley_event_loop_delay_ms{quantile="0.99"}') ?? null,
        eventLoopDelayMaxMs: promSample(metricsText, 'parley_event_loop_delay_ms{quantile="max"}') ?? null,
        /** Garbage collections in the window (prom-client's nodejs_gc_duration_seconds): full = mark-compact. */
        gc: { full: gcDelta(metricsBefore, metricsText, 'major'), young: gcDelta(metricsBefore, metricsText, 'minor') },
        /** Event-loop stalls over 50 ms in the window: seconds into it (at their end), length, and how much of it others took (see Stall). */
        stalls: windowStalls.filter((st) => st.atMs > before.atMs).map(({ atMs, ...st }) => ({ atS: round1((atMs - before.atMs) / 1000), ...st })),
        baselineRssMb: mb(baseline.rssBytes),
        idleRssPerCallMb: Math.round(((idle.rssBytes - baseline.rssBytes) / calls / 1e6) * 100) / 100,
        idleHeapPerCallKb: Math.round((idle.heapUsedBytes - baseline.heapUsedBytes) / calls / 1e3),
        idleExternalPerCallKb: Math.round((idle.externalBytes - baseline.externalBytes) / calls / 1e3),
        activeRssPerCallMb: Math.round(((after.rssBytes - baseline.rssBytes) / calls / 1e6) * 100) / 100,
        peakRssMb: mb(peakRss),
      },
      turns: latencies.length,
      expectedTurns: calls * CALLER_LINES.length + interrupters,
      voiceToVoiceMs: summary(pick('voiceToVoiceMs')),
      parleyOverheadMs: summary(pick('parleyOverheadMs')),
      // Stage times absorb queueing in Parley's event loop (a late timer makes "STT" look slow), so also:
      // everything above endpointing and the fakes' nominal latencies (an upper bound on what Parley added).
      beyondNominalMs: summary(
        latencies
          .filter((l) => l.voiceToVoiceMs !== null && l.endpointingMs !== null)
          .map((l) => (l.voiceToVoiceMs as number) - (l.endpointingMs as number) - NOMINAL_PROVIDERS_MS),
      ),
      endpointingMs: summary(pick('endpointingMs')),
      sttFinalMs: summary(pick('sttFinalMs')),
      llmFirstTokenMs: summary(pick('llmFirstTokenMs')),
      ttsFirstAudioMs: summary(pick('ttsFirstAudioMs')),
      heardByCallerMs: summary(reports.flatMap((r) => r.heardLatencyMs)),
      outboundFrames: {
        received: sum('framesReceived'),
        latenessMs: lateness.summary(),
        lateBeyondBudget: sum('lateFrames'),
        /** What was stalled around each late frame (bench/late-frames.ts): the server is blamed first. */
        lateAttribution: attributeLateFrames(
          {
            callerBehind: reports.flatMap((r) => r.lateAtWallMs.callerBehind),
            callerOnTime: reports.flatMap((r) => r.lateAtWallMs.callerOnTime),
          },
          windowStalls.map((st) => ({ endWallMs: before.timeOrigin + st.atMs, ms: st.ms })),
          fakesWatch.stalls,
        ),
        gapsMidSentence: sum('gaps'),
        gapMs: Math.round(sum('gapMs')),
        sentences: sum('sentences'),
        sentencesShort: sum('sentencesShort'),
        framesDropped: sum('framesDropped'),
      },
      bargeIn: {
        attempted: sum('bargeInsAttempted'),
        missed: sum('bargeInsMissed'),
        reactionMs: summary(reports.flatMap((r) => r.bargeInReactionMs)),
      },
      callers: {
        processes: callers.length,
        framesSent: sum('framesSent'),
        cpuPercent: round1((sum('cpuUs') / 1000 / callerWall) * 100),
        loopDelayMs: callerLoop.summary(),
      },
      machine,
      wallS: round1((performance.now() - startedAt) / 1000),
      ...(profileDir ? { profileDir } : {}),
    };
  } finally {
    for (const c of callers) if (c.child.exitCode === null) c.child.kill();
    const closing = performance.now();
    await server.close();
    await fakes.close();
    log(`closed in ${Math.round(performance.now() - closing)} ms`);
    if (!o.profile && !o.allocProfile && !process.env.LOAD_SERVER_NODE_ARGS) await rm(dataDir, { recursive: true, force: true });
    else log(`server ${o.profile ?? (o.allocProfile ? 'allocation' : 'no')} profile; log in ${dataDir}`);
  }
}

async function main(): Promise<void> {
  const levels = (arg('--calls') ?? DEFAULT_LEVELS).split(',').map(Number);
  const dialRate = Number(arg('--dial-rate') ?? DIAL_RATE);
  const profile = process.argv.includes('--profile') ? 'cpu' : process.argv.includes('--heap-profile') ? 'heap' : undefined;
  const pinned = availableParallelism() >= 2 && pinSelf(1);
  if (!pinned) log('taskset unavailable or one core: server and callers share the machine');
  const audio = await callerAudio();
  log('caller audio ready');
  const scenarios: Awaited<ReturnType<typeof runLevel>>[] = [];
  for (const calls of levels) {
    log(`level ${calls}…`);
    scenarios.push(await runLevel(calls, audio, { pinned, profile, allocProfile: process.argv.includes('--alloc-profile') ? 'all' : process.argv.includes('--promoted-profile') ? 'promoted' : false, dialRate }));
  }
  const top = scenarios.reduce((a, b) => (b.concurrentCalls > a.concurrentCalls ? b : a));
  const at100 = scenarios.find((s) => s.concurrentCalls === 100);
  const clean = (s: (typeof scenarios)[number]): boolean =>
    s.outboundFrames.lateBeyondBudget === 0 && s.outboundFrames.gapsMidSentence === 0 && s.outboundFrames.framesDropped === 0;
  const le = (v: number | null, limit: number): boolean => v !== null && v <= limit;
  const targets = {
    sustainedCalls: { target: TARGETS.calls, at: top.concurrentCalls, sustained: top.callsSustained, met: top.concurrentCalls >= TARGETS.calls && top.callsSustained === top.concurrentCalls },
    overheadP99Ms: {
      target: TARGETS.overheadP99Ms,
      at: top.concurrentCalls,
      value: top.parleyOverheadMs.p99,
      met: le(top.parleyOverheadMs.p99, TARGETS.overheadP99Ms),
      /** Not part of `met`: read it with the event-loop delay (see the note on beyondNominal). */
      beyondNominalP99: top.beyondNominalMs.p99,
    },
    noLateOrDroppedFrames: { at: top.concurrentCalls, met: clean(top) },
    overheadP50At100Ms: {
      target: TARGETS.overheadP50At100Ms,
      value: at100?.parleyOverheadMs.p50 ?? null,
      met: le(at100?.parleyOverheadMs.p50 ?? null, TARGETS.overheadP50At100Ms),
      beyondNominalP50: at100?.beyondNominalMs.p50 ?? null,
    },
    bargeInP95Ms: { target: TARGETS.bargeInP95Ms, worst: Math.max(...scenarios.map((s) => s.bargeIn.reactionMs.p95 ?? Infinity)), met: scenarios.every((s) => le(s.bargeIn.reactionMs.p95, TARGETS.bargeInP95Ms)) },
    idleMbPerCall: { target: TARGETS.idleMbPerCall, at: top.concurrentCalls, value: top.server.idleRssPerCallMb, met: top.server.idleRssPerCallMb <= TARGETS.idleMbPerCall },
  };
  process.stdout.write(
    `${JSON.stringify(
      {
        bench: 'load',
        node: process.version,
        serverPinnedToOneCore: pinned,
        providers: { stt: 'deepgram (fake)', llm: 'openai (fake)', tts: 'elevenlabs (fake)' },
        fakeLatencyMs: PROVIDER_LATENCY,
        agentReply: `3 sentences × ${SENTENCE_AUDIO_MS} ms of audio`,
        endpointing: ENDPOINTING,
        dialRatePerS: dialRate,
        jitterBudgetMs: JITTER_BUDGET_MS,
        pacerLeadMs: PACER_LEAD_MS,
        note:
          'server CPU/RSS/event-loop delay cover the active window (all calls connected, each saying 3 lines; every 4th talks over a reply); ' +
          'idle = connected, greeted, silent; per-call memory = (RSS − baseline) / calls; overhead = voice-to-voice − endpointing − STT − LLM − TTS (stored turns); ' +
          'beyondNominal = voice-to-voice − endpointing − the fakes\' nominal latencies (includes queueing that the stage times absorb, and the fakes\' own timer jitter); the overhead targets are on the stored overhead, as defined in src/pipeline/turn-latency.ts; ' +
          'frame lateness = arrival vs the run schedule (first frame + 20 ms each − pacer lead); gap = playout ran dry inside a sentence; ' +
          'barge-in = start of caller speech over the agent (the start of its first frame) → clear received; ' +
          'machine: calibrationMs = a fixed CPU workload on the server core before the level, windowCalibrationMs = the median of small probes of it taken by the server during the window (this VM speeds up and slows down with its neighbours: compare runs at similar values, or cpuPercentAtReferenceSpeed = cpuPercent scaled to a core calibrating in ' + REFERENCE_CALIBRATION_MS + ' ms), ' +
          'otherLoadPercent = CPU used by other processes during the window (% of one core), serverCoreOtherLoadPercent = of which on the server core; server.stalls = event-loop stalls over 50 ms, with waitMs (the main thread was runnable but not running), stealMs (the hypervisor ran something else on the core), otherMs (the core busy outside the server: other processes, kernel threads; 10 ms ticks), irqMs (of the core in interrupts) and threads (CPU ms of the other threads of the server meanwhile: v8-N = the V8 platform workers, GC helpers and background compilation); ' +
          'outboundFrames.lateAttribution = what was stalled around each late frame, the server blamed first (bench/late-frames.ts): a server stall, a stall of the fakes\' process (machine.fakesStalls), the caller process itself behind, or nothing seen',
        targets,
        allTargetsMet: Object.values(targets).every((t) => t.met),
        scenarios,
      },
      null,
      2,
    )}\n`,
  );
}

await main();
