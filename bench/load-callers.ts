/**
 * Simulated Twilio callers for bench/load.ts: many calls in one process, cheap enough that one
 * core drives hundreds. Each call dials in through the voice webhook like Twilio, opens the media
 * stream, and from then on sends a 20 ms mu-law frame every 20 ms of real time (line noise, or
 * speech when it talks) while playing the agent's audio like a handset: echoing marks when
 * playback reaches them and dropping buffered audio on `clear`.
 *
 * Cheap by construction: the audio is synthesised and base64-encoded once by the parent (one
 * string per frame), one timer serves every call of the process, the script is a per-call state
 * machine advanced by that timer (no per-call timers or promises), and agent messages are told
 * apart by their first bytes without JSON-parsing media.
 *
 * What each call measures (merged per process and sent to the parent):
 * - outbound frame lateness: each agent frame's arrival against its due time on the real-time
 *   schedule of its run (the first frame of a run, plus 20 ms per frame, minus the pacer's lead),
 *   and gaps: the playout buffer ran dry between two frames of one sentence;
 * - dropped frames: a sentence (the audio between two marks) carrying fewer frames than the TTS
 *   produced for it;
 * - barge-in reaction: from the start of the caller's speech over the agent (the start of the
 *   audio in its first frame, 20 ms before that frame is sent) to receiving `clear`;
 * - reply latency as heard: from the last frame of the caller's speech to the first agent frame.
 *
 * IPC with the parent: → init; ← ready (every call greeted and quiet, or failed); → go (scripts
 * start); ← done (every script finished, calls still connected and silent); → hangup; ← closed.
 */
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import { parseStreamTwiml, randomSid } from '../src/cli/simulated-caller.js';
import { MsHistogram } from './stats.js';

const FRAME_MS = 20;
/** The shared timer's period: calls' 20 ms frame clocks are spread over it, as independent phones' would be. */
const TICK_MS = 4;
/** The timer overdue by this much means this process, not the server, may have made a frame late. */
const CALLER_BEHIND_MS = 30;
const LATE_TIMES_KEPT = 20_000;
/** A stalled process sends at most this many overdue frames per call at once (then skips, like a lossy line). */
const MAX_CATCH_UP_FRAMES = 10;

/** Base64 mu-law, one string per 20 ms frame. */
export interface CallerAudio {
  readonly lines: readonly (readonly string[])[];
  readonly interrupt: readonly string[];
  readonly noise: readonly string[];
}

export interface CallerInit {
  readonly type: 'init';
  readonly baseUrl: string;
  readonly to: string;
  /** This process's calls are numbers firstIndex, firstIndex + stride, … (count of them) among all calls. */
  readonly firstIndex: number;
  readonly stride: number;
  readonly count: number;
  /** Call number n dials at init + n × this. */
  readonly dialIntervalMs: number;
  /** After `go`, each call's first line starts at a uniform random time within this window. */
  readonly goSpreadMs: number;
  readonly audio: CallerAudio;
  /** Calls whose index is a multiple of this talk over the agent's reply to line `interruptLine`. */
  readonly interruptEvery: number;
  readonly interruptLine: number;
  /** How long into that reply the interruption starts. */
  readonly interruptAfterMs: number;
  /** Frames each agent sentence carries (the TTS fake's fixed audio per sentence). */
  readonly framesPerSentence: number;
  /** The server pacer's lead: how far ahead of real time audio is sent. */
  readonly leadMs: number;
  /** A frame later than this against its schedule counts as late. */
  readonly jitterBudgetMs: number;
  /** Agent silence (after playback) that ends its turn. */
  readonly quietMs: number;
  readonly replyTimeoutMs: number;
  /** Pause before each line, uniform in [min, max). */
  readonly thinkMs: readonly [number, number];
}

/** Everything one process measured; the parent merges these. */
export interface CallerReport {
  readonly type: 'done';
  readonly calls: number;
  readonly callSids: string[];
  readonly greeted: number;
  readonly completed: number;
  readonly failed: number;
  readonly failures: string[];
  readonly replyTimeouts: number;
  readonly heardLatencyMs: number[];
  readonly bargeInReactionMs: number[];
  readonly bargeInsAttempted: number;
  readonly bargeInsMissed: number;
  readonly clearsReceived: number;
  readonly framesSent: number;
  readonly framesReceived: number;
  readonly lateness: { counts: number[]; max: number };
  readonly lateFrames: number;
  /**
   * When the late frames were read (wall clock, ms; the first LATE_TIMES_KEPT of each), to line up
   * with stalls elsewhere: those read while this process was itself behind (its 4 ms timer overdue
   * by more than CALLER_BEHIND_MS, so the lateness may be ours), and the others.
   */
  readonly lateAtWallMs: { readonly callerBehind: number[]; readonly callerOnTime: number[] };
  readonly gaps: number;
  readonly gapMs: number;
  readonly sentences: number;
  readonly sentencesShort: number;
  readonly framesDropped: number;
  readonly loopDelay: { counts: number[]; max: number };
  readonly cpuUs: number;
  readonly wallMs: number;
}

type State =
  | 'dialing'
  | 'await_greeting'
  | 'greeting'
  | 'idle'
  | 'think'
  | 'speak'
  | 'await_reply'
  | 'listen'
  | 'finished'
  | 'closed';

interface Totals {
  greeted: number;
  completed: number;
  failed: number;
  replyTimeouts: number;
  bargeInsAttempted: number;
  bargeInsMissed: number;
  clearsReceived: number;
  framesSent: number;
  framesReceived: number;
  lateFrames: number;
  gaps: number;
  gapMs: number;
  sentences: number;
  sentencesShort: number;
  framesDropped: number;
}

const CH_C = 0x63; // 'c'
const CH_M = 0x6d; // 'm'
const CH_E = 0x65; // 'e'
const CH_A = 0x61; // 'a'
/** `{"event":"` — every message Parley sends starts so; byte 10 is the event's first letter. */
const EVENT_PREFIX = Buffer.from('{"event":"');
const PAYLOAD_KEY = Buffer.from('"payload":"');
const QUOTE = 0x22;

/** 20 ms frames of 8 kHz mu-law in a media message (by its base64 payload's length). */
function framesIn(data: Buffer): number {
  const at = data.indexOf(PAYLOAD_KEY);
  if (at < 0) return 0;
  const start = at + PAYLOAD_KEY.length;
  const end = data.indexOf(QUOTE, start);
  const chars = end - start;
  const pad = data[end - 1] === 0x3d ? (data[end - 2] === 0x3d ? 2 : 1) : 0;
  return Math.round(((chars / 4) * 3 - pad) / (FRAME_MS * 8));
}

class SimCall {
  state: State = 'dialing';
  ws: WebSocket | undefined;
  callSid = randomSid('CA');
  private readonly accountSid = randomSid('AC');
  private readonly streamSid = randomSid('MZ');
  private seq = 1;
  private chunk = 0;
  /** Frame clock: frames sent since t0. */
  private t0 = 0;
  private framesSent = 0;
  private noisePos = 0;
  /** What the caller is saying now (frames), if anything. */
  private speech: readonly string[] | undefined;
  private speechPos = 0;
  private speechIsInterruption = false;
  private speechEndAt = 0;
  private step = 0;
  private stepOk = true;
  private allOk = true;
  private deadline = 0;
  private thinkUntil = 0;
  private replyStartAt = 0;
  private bargePending = false;
  private bargeOnsetAt = -1;
  private bargeCleared = false;
  // Handset playout model.
  private playHead = 0;
  private runAnchor = -1;
  private runFrames = 0;
  private lastItem: 'none' | 'media' | 'mark' | 'clear' = 'none';
  private sentenceFrames = 0;
  private readonly markNames: string[] = [];
  private readonly markDue: number[] = [];
  private hangingUp = false;

  constructor(
    readonly index: number,
    private readonly o: CallerInit,
    private readonly totals: Totals,
    private readonly lateness: MsHistogram,
    private readonly heard: number[],
    private readonly barge: number[],
    private readonly failures: string[],
    private readonly onSettled: () => void,
  ) {}

  private get interrupts(): boolean {
    return this.o.interruptEvery > 0 && this.index % this.o.interruptEvery === 0;
  }

  async dial(): Promise<void> {
    const o = this.o;
    const params = {
      AccountSid: this.accountSid,
      ApiVersion: '2010-04-01',
      CallSid: this.callSid,
      CallStatus: 'ringing',
      Direction: 'inbound',
      From: `+1555${String(2000000 + this.index).padStart(7, '0')}`,
      To: o.to,
    };
    const res = await fetch(`${o.baseUrl}/twilio/voice`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(params).toString(),
    });
    const twiml = await res.text();
    if (!res.ok) throw new Error(`voice webhook HTTP ${res.status}`);
    const stream = parseStreamTwiml(twiml);
    if (!stream) throw new Error('no <Stream> in TwiML');
    const path = new URL(stream.url);
    const ws = new WebSocket(`${o.baseUrl.replace(/^http/, 'ws')}${path.pathname}${path.search}`, { perMessageDeflate: false });
    this.ws = ws;
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (!isBinary) this.onMessage(data);
    });
    ws.on('close', (code) => {
      if (this.state !== 'closed' && !this.hangingUp) this.fail(`closed by server (${code})`);
      this.state = 'closed';
    });
    ws.on('error', (err) => this.fail(`socket error: ${err.message}`));
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    ws.send(JSON.stringify({ event: 'connected', protocol: 'Call', version: '1.0.0' }));
    ws.send(
      JSON.stringify({
        event: 'start',
        sequenceNumber: String(this.seq++),
        start: {
          accountSid: this.accountSid,
          streamSid: this.streamSid,
          callSid: this.callSid,
          tracks: ['inbound'],
          mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
          customParameters: stream.parameters,
        },
        streamSid: this.streamSid,
      }),
    );
    const now = performance.now();
    this.t0 = now;
    this.playHead = now;
    this.state = 'await_greeting';
    this.deadline = now + o.replyTimeoutMs;
  }

  fail(why: string): void {
    if (this.state === 'closed' || this.hangingUp) return;
    const wasSettled = this.isSettled;
    this.totals.failed++;
    if (this.failures.length < 20) this.failures.push(`call ${this.index}: ${why} (in ${this.state})`);
    this.allOk = false;
    this.state = 'closed';
    this.ws?.terminate();
    if (!wasSettled) this.onSettled();
  }

  /** Ready (idle) or finished, or gone: the phase the parent waits for is over for this call. */
  get isSettled(): boolean {
    return this.state === 'idle' || this.state === 'finished' || this.state === 'closed';
  }

  go(): void {
    if (this.state !== 'idle') return;
    this.state = 'think';
    this.thinkUntil = performance.now() + Math.random() * this.o.goSpreadMs;
  }

  hangup(): Promise<void> {
    const ws = this.ws;
    this.hangingUp = true;
    if (!ws || ws.readyState !== WebSocket.OPEN) return Promise.resolve();
    ws.send(JSON.stringify({ event: 'stop', sequenceNumber: String(this.seq++), streamSid: this.streamSid, stop: { accountSid: this.accountSid, callSid: this.callSid } }));
    return new Promise<void>((resolve) => {
      ws.once('close', () => resolve());
      ws.close(1000);
      setTimeout(resolve, 3000).unref();
    });
  }

  private thinkTime(): number {
    const [lo, hi] = this.o.thinkMs;
    return lo + Math.random() * (hi - lo);
  }

  // ---------- agent → caller ----------

  private onMessage(data: Buffer): void {
    const t = performance.now();
    if (data.length > 12 && data.compare(EVENT_PREFIX, 0, EVENT_PREFIX.length, 0, EVENT_PREFIX.length) === 0) {
      const c0 = data[10];
      const c1 = data[11];
      if (c0 === CH_M && c1 === CH_E) return this.onMedia(t, framesIn(data));
      if (c0 === CH_C) return this.onClear(t);
      if (c0 === CH_M && c1 === CH_A) {
        const msg = JSON.parse(data.toString()) as { mark?: { name?: string } };
        return this.onMark(msg.mark?.name ?? '');
      }
      return;
    }
    // Not in Parley's usual shape: parse it properly.
    let msg: { event?: string; mark?: { name?: string } };
    try {
      msg = JSON.parse(data.toString()) as typeof msg;
    } catch {
      return;
    }
    if (msg.event === 'media') this.onMedia(t, framesIn(data));
    else if (msg.event === 'clear') this.onClear(t);
    else if (msg.event === 'mark') this.onMark(msg.mark?.name ?? '');
  }

  private onFrame(t: number): void {
    const totals = this.totals;
    totals.framesReceived++;
    if (this.playHead <= t) {
      // The handset's buffer is empty: a new run of real-time audio starts here. Between
      // sentences that is the agent pausing; inside a sentence it is an audible gap.
      if (this.lastItem === 'media' && this.runAnchor >= 0) {
        totals.gaps++;
        totals.gapMs += t - this.playHead;
      }
      this.runAnchor = t;
      this.runFrames = 0;
      this.lateness.record(0);
    } else {
      const lead = this.o.leadMs;
      const sched = this.runFrames * FRAME_MS;
      const due = this.runAnchor + (sched > lead ? sched - lead : 0);
      const late = t - due;
      this.lateness.record(late);
      if (late > this.o.jitterBudgetMs) {
        totals.lateFrames++;
        // Read late while this process was busy or off its core: the lateness may be ours, not the server's.
        const times = t - lastLoopAt > CALLER_BEHIND_MS ? lateAtWallMs.callerBehind : lateAtWallMs.callerOnTime;
        if (times.length < LATE_TIMES_KEPT) times.push(Math.round(performance.timeOrigin + t));
      }
    }
    this.runFrames++;
    this.playHead = (this.playHead > t ? this.playHead : t) + FRAME_MS;
    this.sentenceFrames++;
  }

  /** A media message carrying `frames` 20 ms frames (the server batches up to 80 ms per message). */
  private onMedia(t: number, frames: number): void {
    for (let i = 0; i < frames; i++) this.onFrame(t);
    this.lastItem = 'media';
    if (this.state === 'await_greeting') {
      this.state = 'greeting';
    } else if (this.state === 'await_reply') {
      this.heard.push(t - this.speechEndAt);
      this.replyStartAt = t;
      this.state = 'listen';
      this.bargePending = !this.speechIsInterruption && this.interrupts && this.step === this.o.interruptLine;
    }
  }

  private onMark(name: string): void {
    const totals = this.totals;
    totals.sentences++;
    if (this.sentenceFrames < this.o.framesPerSentence) {
      totals.sentencesShort++;
      totals.framesDropped += this.o.framesPerSentence - this.sentenceFrames;
    }
    this.sentenceFrames = 0;
    this.markNames.push(name);
    this.markDue.push(this.playHead);
    this.lastItem = 'mark';
  }

  private onClear(t: number): void {
    this.totals.clearsReceived++;
    // Twilio empties its buffer and reports the marks that were in it.
    for (const name of this.markNames) this.echoMark(name);
    this.markNames.length = 0;
    this.markDue.length = 0;
    this.playHead = t;
    this.runAnchor = -1;
    this.sentenceFrames = 0;
    this.lastItem = 'clear';
    if (this.bargeOnsetAt >= 0 && !this.bargeCleared) {
      this.bargeCleared = true;
      this.barge.push(t - this.bargeOnsetAt);
    }
  }

  private echoMark(name: string): void {
    const ws = this.ws;
    if (ws?.readyState !== WebSocket.OPEN) return;
    ws.send(`{"event":"mark","sequenceNumber":"${this.seq++}","streamSid":"${this.streamSid}","mark":{"name":${JSON.stringify(name)}}}`);
  }

  // ---------- the shared clock ----------

  tick(now: number): void {
    const s = this.state;
    if (s === 'dialing' || s === 'closed') return;
    const ws = this.ws as WebSocket;
    // Outbound audio: every frame due by now.
    let due = Math.floor((now - this.t0) / FRAME_MS) + 1 - this.framesSent;
    if (due > MAX_CATCH_UP_FRAMES) {
      this.framesSent += due - MAX_CATCH_UP_FRAMES;
      due = MAX_CATCH_UP_FRAMES;
    }
    for (; due > 0; due--) this.sendFrame(ws, now);
    // Handset playback reached these marks.
    let m = 0;
    while (m < this.markDue.length && (this.markDue[m] as number) <= now) m++;
    if (m > 0) {
      for (let i = 0; i < m; i++) this.echoMark(this.markNames[i] as string);
      this.markNames.splice(0, m);
      this.markDue.splice(0, m);
    }
    this.advance(now);
  }

  private sendFrame(ws: WebSocket, now: number): void {
    let payload: string;
    const speech = this.speech;
    if (speech) {
      payload = speech[this.speechPos++] as string;
      // The speech began with this frame's audio, captured over the 20 ms before it was sent.
      if (this.speechIsInterruption && this.bargeOnsetAt < 0) this.bargeOnsetAt = now - FRAME_MS;
      if (this.speechPos >= speech.length) {
        this.speech = undefined;
        this.speechEndAt = now;
      }
    } else {
      const noise = this.o.audio.noise;
      payload = noise[this.noisePos++ % noise.length] as string;
    }
    this.framesSent++;
    this.totals.framesSent++;
    const chunk = ++this.chunk;
    ws.send(`{"event":"media","sequenceNumber":"${this.seq++}","media":{"track":"inbound","chunk":"${chunk}","timestamp":"${chunk * FRAME_MS}","payload":"${payload}"},"streamSid":"${this.streamSid}"}`);
  }

  private get agentQuiet(): boolean {
    return this.markDue.length === 0 && performance.now() - this.playHead >= this.o.quietMs;
  }

  private say(frames: readonly string[], interruption: boolean): void {
    this.speech = frames;
    this.speechPos = 0;
    this.speechIsInterruption = interruption;
    this.state = 'speak';
  }

  /** The script: greeting → idle → (think → speak → await reply → listen [→ talk over it]) × lines → finished. */
  private advance(now: number): void {
    switch (this.state) {
      case 'await_greeting':
      case 'await_reply':
        if (now > this.deadline) {
          this.totals.replyTimeouts++;
          this.stepOk = false;
          if (this.state === 'await_greeting') return this.fail('no greeting');
          this.nextStep(now);
        }
        return;
      case 'greeting':
        if (this.agentQuiet) {
          this.state = 'idle';
          this.totals.greeted++;
          this.onSettled();
        }
        return;
      case 'think':
        if (now >= this.thinkUntil) this.say(this.o.audio.lines[this.step % this.o.audio.lines.length] as readonly string[], false);
        return;
      case 'speak':
        if (this.speech === undefined) {
          this.state = 'await_reply';
          this.deadline = this.speechEndAt + this.o.replyTimeoutMs;
          if (this.speechIsInterruption && !this.bargeCleared) this.totals.bargeInsMissed++;
        }
        return;
      case 'listen':
        if (this.bargePending && now >= this.replyStartAt + this.o.interruptAfterMs) {
          this.bargePending = false;
          this.totals.bargeInsAttempted++;
          this.bargeOnsetAt = -1;
          this.bargeCleared = false;
          this.say(this.o.audio.interrupt, true);
          return;
        }
        if (this.agentQuiet) this.nextStep(now);
        return;
      default:
        return;
    }
  }

  private nextStep(now: number): void {
    if (!this.stepOk) this.allOk = false;
    this.stepOk = true;
    this.speechIsInterruption = false;
    this.step++;
    if (this.step >= this.o.audio.lines.length) {
      this.state = 'finished';
      if (this.allOk) this.totals.completed++;
      this.onSettled();
      return;
    }
    this.state = 'think';
    this.thinkUntil = now + this.thinkTime();
  }
}

// ---------- the process ----------

const totals: Totals = {
  greeted: 0,
  completed: 0,
  failed: 0,
  replyTimeouts: 0,
  bargeInsAttempted: 0,
  bargeInsMissed: 0,
  clearsReceived: 0,
  framesSent: 0,
  framesReceived: 0,
  lateFrames: 0,
  gaps: 0,
  gapMs: 0,
  sentences: 0,
  sentencesShort: 0,
  framesDropped: 0,
};
const lateness = new MsHistogram(2000);
const lateAtWallMs = { callerBehind: [] as number[], callerOnTime: [] as number[] };
const loopDelay = new MsHistogram(2000);
const heard: number[] = [];
const barge: number[] = [];
const failures: string[] = [];
let calls: SimCall[] = [];
let phase: 'ramp' | 'script' | 'end' = 'ramp';
const cpuAtStart = process.cpuUsage();
const startedAt = performance.now();

const send = (msg: unknown): void => {
  process.send?.(msg);
};

function checkSettled(): void {
  if (!calls.every((c) => c.isSettled)) return;
  if (phase === 'ramp') {
    send({ type: 'ready', greeted: totals.greeted, failed: totals.failed });
  } else if (phase === 'script') {
    phase = 'end';
    const cpu = process.cpuUsage(cpuAtStart);
    const report: CallerReport = {
      type: 'done',
      calls: calls.length,
      callSids: calls.map((c) => c.callSid),
      ...totals,
      failures,
      heardLatencyMs: heard.map(Math.round),
      bargeInReactionMs: barge.map(Math.round),
      lateness: { counts: [...lateness.counts], max: lateness.max },
      lateAtWallMs,
      loopDelay: { counts: [...loopDelay.counts], max: loopDelay.max },
      cpuUs: cpu.user + cpu.system,
      wallMs: performance.now() - startedAt,
    };
    send(report);
  }
}

let settleQueued = false;
/** Calls settle inside message handlers; check once per turn of the loop. */
function onSettled(): void {
  if (settleQueued) return;
  settleQueued = true;
  setImmediate(() => {
    settleQueued = false;
    checkSettled();
  });
}

let nextTickAt = 0;
/** When the timer below last ran: a frame read long after it was read by a process that was behind. */
let lastLoopAt = 0;
function loop(): void {
  const now = performance.now();
  lastLoopAt = now;
  loopDelay.record(now - nextTickAt);
  for (const c of calls) c.tick(now);
  nextTickAt += TICK_MS;
  if (nextTickAt < now) nextTickAt = now + TICK_MS;
  setTimeout(loop, nextTickAt - performance.now());
}

process.on('message', (msg: { type: string } & Partial<CallerInit>) => {
  if (msg.type === 'init') {
    const o = msg as CallerInit;
    calls = Array.from({ length: o.count }, (_, i) => new SimCall(o.firstIndex + i * o.stride, o, totals, lateness, heard, barge, failures, onSettled));
    nextTickAt = performance.now();
    loop();
    for (const c of calls) {
      setTimeout(
        () => {
          c.dial().catch((err: unknown) => c.fail(`dial: ${(err as Error).message}`));
        },
        c.index * o.dialIntervalMs,
      );
    }
  } else if (msg.type === 'go') {
    phase = 'script';
    for (const c of calls) c.go();
    onSettled();
  } else if (msg.type === 'hangup') {
    void Promise.all(calls.map((c) => c.hangup())).then(() => {
      send({ type: 'closed' });
      setTimeout(() => process.exit(0), 50);
    });
  }
});
process.on('disconnect', () => process.exit(0));
