/**
 * Test support for echo suppression: builds what Parley sees on a PSTN speakerphone call.
 *
 * - Outbound: the agent's audio cut into 20 ms frames and sent the way the pacer sends them
 *   (src/pipeline/pacer.ts): a burst of `PACER_LEAD_MS` when a run starts, then one frame per 20 ms on
 *   a 10 ms tick, so frames leave up to 160 ms before they play; a run whose audio arrives late underruns
 *   and restarts.
 * - The carrier plays each frame when it arrives (after a little network jitter) or right after the frame
 *   before it, whichever is later.
 * - The caller's phone plays that audio through its loudspeaker; its microphone hears it again, `delayMs`
 *   after it played (network both ways, jitter buffers, the room), attenuated by `attenuationDb`, optionally
 *   coloured (small-speaker band limits and a few room reflections), plus line noise and whatever the caller
 *   says. The inbound stream is mu-law coded like the real one and arrives in 20 ms frames with jitter.
 *
 * Everything is deterministic (seeded), so a failing test replays exactly.
 */
import { iterate } from '../pipeline/channel.js';
import { PACER_LEAD_MS, PACER_TICK_MS } from '../pipeline/pacer.js';
import { EspeakTts } from '../providers/tts/espeak.js';
import { speakWithFlite } from './flite-voice.js';
import { mulawDecode, mulawEncode } from './mulaw.js';
import { concatPcm16 } from './pcm16.js';
import { resample } from './resampler.js';

const FRAME_MS = 20;

/** A block of samples with the wall time (performance.now scale) it was sent or received at. */
export interface TimedFrame {
  readonly samples: Int16Array;
  readonly atMs: number;
}

export interface EchoPath {
  /** From the carrier playing a sample to that sample's echo arriving inbound. */
  readonly delayMs: number;
  /** Echo level below the played audio (positive dB). */
  readonly attenuationDb: number;
  /** Small-speaker colouration: 300 Hz high-pass, 2.4 kHz low-pass and three room reflections. */
  readonly coloured?: boolean;
}

/** One stretch of agent audio, handed to the transport at `queuedAtMs` (TTS output arrives in bursts). */
export interface AgentAudio {
  readonly samples: Int16Array;
  readonly queuedAtMs: number;
}

export interface SpeakerphoneOptions {
  readonly sampleRateHz: number;
  /** What the agent says; empty for a call where only the caller talks. */
  readonly agent: readonly AgentAudio[];
  /** Undefined: no echo at all (handset or headset). */
  readonly echo?: EchoPath;
  /** The echo path changes (the caller moved the phone, or the route changed) from this wall time on. */
  readonly laterEcho?: { readonly fromMs: number; readonly path: EchoPath };
  /**
   * Barge-in: at this wall time Parley clears the carrier's buffer. What was sent but had not played yet
   * never plays (its echo never comes back), and agent audio queued by then is never sent; audio queued
   * later (the agent's answer to the caller) is sent as usual.
   */
  readonly clearAtMs?: number;
  /** Caller speech and when (wall time) it starts. */
  readonly caller?: { readonly samples: Int16Array; readonly startMs: number };
  /** Line noise level (white, dBFS); default -55. */
  readonly noiseDbfs?: number;
  /**
   * Outbound frames reach the carrier up to this late (uniform); default 6. Within a run the pacer's lead
   * absorbs it, but the first frame of a run (after the carrier's buffer ran dry) plays when it arrives,
   * and the rest of the run follows it: the whole run's echo comes that much later.
   */
  readonly outboundJitterMs?: number;
  /**
   * The call's first run of agent audio (usually the greeting) plays this much later than its frames reach
   * the carrier (a playout that is slow to start), and the rest of that run follows it. Later runs play as
   * they arrive.
   */
  readonly firstRunLateMs?: number;
  /** Inbound frames arrive up to this late (uniform); default 8. */
  readonly inboundJitterMs?: number;
  /** Length of the inbound stream; default: until 800 ms after the last echo or caller sample. */
  readonly durationMs?: number;
  readonly seed?: number;
}

export interface SpeakerphoneCall {
  readonly sampleRateHz: number;
  /** Outbound frames in send order, stamped with their send time. */
  readonly sent: readonly TimedFrame[];
  /** When the outbound buffer was cleared (from the options). */
  readonly clearAtMs?: number;
  /** Inbound 20 ms frames in arrival order, stamped with their arrival time. */
  readonly inbound: readonly TimedFrame[];
  /** Wall time of the caller's first audible frame (first 20 ms above -40 dBFS), if there is a caller. */
  readonly callerOnsetMs?: number;
  /** Wall time the last agent sample played. */
  readonly agentEndMs: number;
}

/** Deterministic uniform [0, 1) generator (LCG), so scenarios replay exactly. */
export function seededRandom(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 0x100000000;
  };
}

interface SendPlan {
  readonly sent: TimedFrame[];
  /** Play time of each sent frame (same order). */
  readonly playAtMs: number[];
  /** How many of the sent frames were sent before the clear (the rest are cut off there). */
  readonly sentBeforeClear: number;
}

/** Sends the agent audio as the pacer would and works out when the carrier plays each frame. */
function paceOutbound(agent: readonly AgentAudio[], sampleRateHz: number, rand: () => number, clearAtMs = Infinity, jitterMs = 6, firstRunLateMs = 0): SendPlan {
  const frameSamples = (sampleRateHz * FRAME_MS) / 1000;
  const queue: { samples: Int16Array; availableAtMs: number }[] = [];
  for (const a of agent) {
    for (let i = 0; i < a.samples.length; i += frameSamples) {
      const f = new Int16Array(frameSamples);
      f.set(a.samples.subarray(i, Math.min(a.samples.length, i + frameSamples)));
      queue.push({ samples: f, availableAtMs: a.queuedAtMs });
    }
  }
  const sent: TimedFrame[] = [];
  const playAtMs: number[] = [];
  let idle = true;
  let anchorMs = 0;
  let sentMs = 0;
  let playEndMs = -Infinity;
  let next = 0;
  const send = (nowMs: number): void => {
    const f = queue[next++]!;
    sent.push({ samples: f.samples, atMs: nowMs });
    // Network jitter on the way to the carrier; it plays frames back to back.
    const playAt = Math.max(nowMs + rand() * jitterMs + (sent.length === 1 ? firstRunLateMs : 0), playEndMs);
    playAtMs.push(playAt);
    playEndMs = playAt + FRAME_MS;
  };
  const pump = (nowMs: number): void => {
    if (idle) {
      idle = false;
      anchorMs = nowMs;
      sentMs = 0;
    }
    const dueMs = nowMs - anchorMs + PACER_LEAD_MS;
    while (sentMs < dueMs) {
      if (next >= queue.length || queue[next]!.availableAtMs > nowMs) {
        if (nowMs - anchorMs >= sentMs) idle = true;
        break;
      }
      send(nowMs);
      sentMs += FRAME_MS;
    }
  };
  // wake() when audio is queued, then the shared 10 ms tick.
  const wakes = [...new Set(agent.map((a) => a.queuedAtMs))].sort((a, b) => a - b);
  let tick = wakes.length > 0 ? Math.ceil(wakes[0]! / PACER_TICK_MS) * PACER_TICK_MS : 0;
  let w = 0;
  let sentBeforeClear = -1;
  while (next < queue.length) {
    if (sentBeforeClear < 0 && Math.min(tick, wakes[w] ?? Infinity) >= clearAtMs) {
      // The carrier's buffer is emptied, and what the agent had queued is dropped unsent.
      sentBeforeClear = sent.length;
      while (next < queue.length && queue[next]!.availableAtMs <= clearAtMs) next++;
      idle = true;
      playEndMs = clearAtMs;
      continue;
    }
    if (w < wakes.length && wakes[w]! <= tick) pump(wakes[w++]!);
    else {
      pump(tick);
      tick += PACER_TICK_MS;
    }
  }
  return { sent, playAtMs, sentBeforeClear: sentBeforeClear < 0 ? sent.length : sentBeforeClear };
}

/** Places the played frames on a sample timeline starting at wall time 0. */
function playedTimeline(plan: SendPlan, sampleRateHz: number, lengthSamples: number, clearAtMs = Infinity): Float64Array {
  const out = new Float64Array(lengthSamples);
  const cut = Math.min(lengthSamples, Math.round((clearAtMs * sampleRateHz) / 1000));
  plan.sent.forEach((f, i) => {
    const start = Math.round((plan.playAtMs[i]! * sampleRateHz) / 1000);
    const stop = i < plan.sentBeforeClear ? cut : lengthSamples;
    for (let j = 0; j < f.samples.length && start + j < stop; j++) out[start + j] = f.samples[j]!;
  });
  return out;
}

/** The loudspeaker → room → microphone path: delay, level, and optionally band limits and reflections. */
function echoOf(played: Float64Array, path: EchoPath, sampleRateHz: number): Float64Array {
  const n = played.length;
  let x = played;
  if (path.coloured) {
    // Small loudspeaker: one-pole high-pass at 300 Hz, then a two-pole (cascaded) low-pass at 2.4 kHz.
    const hp = new Float64Array(n);
    const rc = 1 / (2 * Math.PI * 300);
    const a = rc / (rc + 1 / sampleRateHz);
    let px = 0;
    let py = 0;
    for (let i = 0; i < n; i++) {
      py = a * (py + x[i]! - px);
      px = x[i]!;
      hp[i] = py;
    }
    const b = 1 - Math.exp((-2 * Math.PI * 2400) / sampleRateHz);
    let y1 = 0;
    let y2 = 0;
    for (let i = 0; i < n; i++) {
      y1 += b * (hp[i]! - y1);
      y2 += b * (y1 - y2);
      hp[i] = y2;
    }
    // Early reflections off a desk and walls.
    const taps: readonly [number, number][] = [
      [0, 1],
      [7, 0.45],
      [19, 0.3],
      [37, 0.18],
    ];
    const room = new Float64Array(n);
    for (const [ms, g] of taps) {
      const d = Math.round((ms * sampleRateHz) / 1000);
      for (let i = d; i < n; i++) room[i]! += g * hp[i - d]!;
    }
    x = room;
  }
  const gain = 10 ** (-path.attenuationDb / 20);
  const delay = Math.round((path.delayMs * sampleRateHz) / 1000);
  const out = new Float64Array(n);
  for (let i = delay; i < n; i++) out[i] = gain * x[i - delay]!;
  return out;
}

/** Builds one speakerphone call: what Parley sends and what comes back. */
export function simulateSpeakerphone(o: SpeakerphoneOptions): SpeakerphoneCall {
  const rate = o.sampleRateHz;
  const rand = seededRandom(o.seed ?? 7);
  const plan = paceOutbound(o.agent, rate, rand, o.clearAtMs, o.outboundJitterMs, o.firstRunLateMs);
  const lastEnd = plan.playAtMs.length > 0 ? plan.playAtMs.at(-1)! + FRAME_MS : 0;
  // Audio sent before the clear stops playing there; audio sent after it (an answer) plays out.
  const lastPlay = plan.sent.length > plan.sentBeforeClear ? lastEnd : Math.min(lastEnd, o.clearAtMs ?? Infinity);
  const echoEnd = o.echo ? lastPlay + o.echo.delayMs + 100 : lastPlay;
  const callerEnd = o.caller ? o.caller.startMs + (o.caller.samples.length * 1000) / rate : 0;
  const durationMs = o.durationMs ?? Math.ceil((Math.max(echoEnd, callerEnd) + 800) / FRAME_MS) * FRAME_MS;
  const length = Math.round((durationMs * rate) / 1000);

  const played = playedTimeline(plan, rate, length, o.clearAtMs);
  const mic = o.echo ? echoOf(played, o.echo, rate) : new Float64Array(length);
  if (o.laterEcho) {
    const later = echoOf(played, o.laterEcho.path, rate);
    for (let i = Math.round((o.laterEcho.fromMs * rate) / 1000); i < length; i++) mic[i] = later[i]!;
  }
  let callerOnsetMs: number | undefined;
  if (o.caller) {
    const start = Math.round((o.caller.startMs * rate) / 1000);
    const c = o.caller.samples;
    for (let i = 0; i < c.length && start + i < length; i++) mic[start + i]! += c[i]!;
    const frame = (rate * FRAME_MS) / 1000;
    for (let i = 0; i + frame <= c.length; i += frame) {
      let sum = 0;
      for (let j = i; j < i + frame; j++) sum += c[j]! * c[j]!;
      if (10 * Math.log10(sum / frame / 32768 ** 2) > -40) {
        callerOnsetMs = o.caller.startMs + (i * 1000) / rate;
        break;
      }
    }
  }
  const noiseAmp = 32768 * 10 ** ((o.noiseDbfs ?? -55) / 20) * Math.sqrt(3);
  const line = new Int16Array(length);
  for (let i = 0; i < length; i++) {
    const v = mic[i]! + (rand() * 2 - 1) * noiseAmp;
    line[i] = v > 32767 ? 32767 : v < -32768 ? -32768 : Math.round(v);
  }
  // The carrier codes the caller's audio as mu-law; Parley decodes it.
  const coded = mulawDecode(mulawEncode(line));

  const frameSamples = (rate * FRAME_MS) / 1000;
  const jitter = o.inboundJitterMs ?? 8;
  const inbound: TimedFrame[] = [];
  let lastArrival = -Infinity;
  for (let i = 0; i + frameSamples <= length; i += frameSamples) {
    const endMs = ((i + frameSamples) * 1000) / rate;
    const atMs = Math.max(lastArrival, endMs + rand() * jitter);
    lastArrival = atMs;
    inbound.push({ samples: coded.slice(i, i + frameSamples), atMs });
  }
  return {
    sampleRateHz: rate,
    sent: plan.sent,
    inbound,
    agentEndMs: lastPlay,
    ...(callerOnsetMs !== undefined ? { callerOnsetMs } : {}),
    ...(o.clearAtMs !== undefined ? { clearAtMs: o.clearAtMs } : {}),
  };
}

export type CallEvent =
  | { readonly kind: 'sent'; readonly frame: TimedFrame }
  | { readonly kind: 'inbound'; readonly frame: TimedFrame }
  | { readonly kind: 'clear'; readonly atMs: number };

/** What the call path sees, in time order (at equal times: sends, then a clear, then arrivals). */
export function callEvents(call: SpeakerphoneCall): CallEvent[] {
  const at = (e: CallEvent): number => (e.kind === 'clear' ? e.atMs : e.frame.atMs);
  const rank = { sent: 0, clear: 1, inbound: 2 } as const;
  const events: CallEvent[] = [
    ...call.sent.map((frame) => ({ kind: 'sent' as const, frame })),
    ...call.inbound.map((frame) => ({ kind: 'inbound' as const, frame })),
    ...(call.clearAtMs !== undefined ? [{ kind: 'clear' as const, atMs: call.clearAtMs }] : []),
  ];
  // Stable sort keeps each stream's own order.
  return events.sort((a, b) => at(a) - at(b) || rank[a.kind] - rank[b.kind]);
}

/** Agent speech from the espeak-ng TTS provider (the embedded agent voice), at `sampleRateHz`. */
export async function agentSpeech(text: string, sampleRateHz: number): Promise<Int16Array> {
  const tts = new EspeakTts();
  const parts: Int16Array[] = [];
  for await (const f of tts.synthesize(iterate(text), { signal: new AbortController().signal })) parts.push(f.samples);
  return resample(concatPcm16(parts), tts.sampleRateHz, sampleRateHz);
}

/** Caller speech from flite (a different synthesizer and voice from the agent's). */
export function callerSpeech(text: string, sampleRateHz: number): Promise<Int16Array> {
  return speakWithFlite(text, { sampleRateHz });
}

/** Scales samples by `db` (clipping at full scale). */
export function gainDb(samples: Int16Array, db: number): Int16Array {
  const g = 10 ** (db / 20);
  const out = new Int16Array(samples.length);
  for (let i = 0; i < samples.length; i++) {
    const v = Math.round(samples[i]! * g);
    out[i] = v > 32767 ? 32767 : v < -32768 ? -32768 : v;
  }
  return out;
}
