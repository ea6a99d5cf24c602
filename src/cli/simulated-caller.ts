import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import WebSocket from 'ws';
import { speakWithFlite } from '../audio/flite-voice.js';
import { mulawDecode, mulawEncode } from '../audio/mulaw.js';
import { concatPcm16, rmsDbfs } from '../audio/pcm16.js';
import { resample } from '../audio/resampler.js';
import { parseWav } from '../audio/wav.js';
import { twilioSignature } from '../transports/twilio/signature.js';

/**
 * A simulated phone caller that speaks Twilio's side of the protocol: it posts the voice webhook
 * as Twilio would, opens the media stream the TwiML names, sends its speech at real time in 20 ms
 * mu-law frames, and plays the agent's audio at real time like a handset — echoing marks when
 * playback reaches them and dropping buffered audio on `clear`.
 *
 * It can also sound like a worse phone: louder line noise, and a speakerphone's echo (the agent's
 * own audio coming back, delayed and quieter). And it judges the conversation as a caller would:
 * whether the agent talked over it mid-sentence (a cut-off), whether the agent stopped talking
 * although the caller said nothing (a false interruption), and how long each answer took to be heard.
 */

const RATE_HZ = 8000;
const FRAME_SAMPLES = 160;
const FRAME_MS = 20;
/** Agent audio louder than this counts as the agent talking. */
const AUDIBLE_DBFS = -45;
/**
 * Peak of the default line noise added to everything the caller sends (uniform, so about
 * -67.5 dBFS RMS: {@link DEFAULT_NOISE_DBFS}). A phone line is never digitally silent;
 * deterministic so runs are repeatable.
 */
const LINE_NOISE_PEAK = 24;
/** RMS of the default line noise in dBFS (relative to a full-scale square wave, as rmsDbfs measures). */
export const DEFAULT_NOISE_DBFS = Math.round(20 * Math.log10(LINE_NOISE_PEAK / Math.sqrt(3) / 32768) * 10) / 10;
/**
 * Agent audio after this much inaudible time is a new stretch of agent speech (an onset): a reply,
 * or the agent starting to talk over the caller. Longer than the gaps between words of one reply.
 */
const ONSET_GAP_MS = 500;
/**
 * A `clear` this soon after the caller stopped still answers the caller's speech: the server
 * decides on audio it received a little earlier.
 */
const CLEAR_GRACE_MS = 500;
/** A caller waits this long at most for the agent to stop talking, then speaks anyway. */
const QUIET_WAIT_CAP_MS = 30_000;
/** False interruptions logged per call; an agent stuck on its own echo makes hundreds. */
const FALSE_INTERRUPTION_LOG_LINES = 5;

/** Peak of uniform noise whose RMS is `dbfs` (the default line noise when undefined). */
function noisePeak(dbfs: number | undefined): number {
  if (dbfs === undefined) return LINE_NOISE_PEAK;
  return Math.sqrt(3) * 32768 * 10 ** (dbfs / 20);
}

/** Adds deterministic noise of the given peak, like a handset microphone and line, in place. */
function addLineNoise(frame: Int16Array, state: { seed: number }, peak: number): void {
  for (let i = 0; i < frame.length; i++) {
    state.seed = (Math.imul(state.seed, 1103515245) + 12345) >>> 0;
    const noise = ((state.seed >>> 16) / 0xffff - 0.5) * 2 * peak;
    frame[i] = Math.max(-32768, Math.min(32767, (frame[i] as number) + Math.round(noise)));
  }
}

/** A fixed delay for a stream of samples: what goes in comes out `delaySamples` later. */
class DelayLine {
  private buf: Int16Array;
  private start = 0;
  private end: number;

  constructor(delaySamples: number) {
    this.buf = new Int16Array(2 * (delaySamples + 4 * FRAME_SAMPLES));
    this.end = delaySamples; // the first delaySamples out are silence
  }

  push(samples: Int16Array): void {
    if (this.end + samples.length > this.buf.length) {
      const live = this.end - this.start;
      if (2 * (live + samples.length) > this.buf.length) {
        const bigger = new Int16Array(2 * (live + samples.length));
        bigger.set(this.buf.subarray(this.start, this.end));
        this.buf = bigger;
      } else {
        this.buf.copyWithin(0, this.start, this.end);
      }
      this.start = 0;
      this.end = live;
    }
    this.buf.set(samples, this.end);
    this.end += samples.length;
  }

  /** The next `n` samples (silence where none have arrived yet). */
  take(n: number): Int16Array {
    const out = new Int16Array(n);
    const available = Math.min(n, this.end - this.start);
    out.set(this.buf.subarray(this.start, this.start + available));
    this.start += available;
    return out;
  }
}

/** Part of an utterance: words, or the caller pausing mid-sentence. */
export type SayPart = string | { readonly pauseMs: number };

export interface CallStep {
  /**
   * Text the caller says (spoken with flite's rms voice); a list says the parts in order with
   * `{ pauseMs }` silences between them, as one utterance (a caller pausing mid-sentence).
   */
  readonly say?: string | readonly SayPart[];
  /** A WAV file the caller plays into the call instead of `say`. */
  readonly wav?: string;
  /** Speak while the agent is talking, this long after its reply starts (a barge-in). */
  readonly bargeInAfterMs?: number;
  /**
   * Say this over the agent's reply, this long after it starts, as an acknowledgement that should
   * not stop the agent ("uh-huh", "right"). No reply is awaited.
   */
  readonly backchannelAfterMs?: number;
  /** Key presses sent as Media Streams `dtmf` messages (100 ms apart) instead of speech. */
  readonly dtmf?: string;
  /**
   * Stay silent this long after the agent has finished before this step (a caller hesitating).
   * A step with only `pauseMs` is silence alone: no utterance, no reply awaited.
   */
  readonly pauseMs?: number;
}

export interface EchoOptions {
  /** From the caller hearing agent audio to its copy reaching Parley, at least 20 ms (one frame). */
  readonly delayMs: number;
  /** How much quieter the copy is than what the caller heard (echo return loss); 0 = as loud. */
  readonly attenuationDb: number;
}

export interface SimulatedCallOptions {
  /** Where the Parley server listens, e.g. http://127.0.0.1:3000. */
  readonly baseUrl: string;
  readonly to: string;
  readonly from?: string;
  readonly steps: readonly CallStep[];
  /**
   * An outbound call Parley placed: the TwiML its answer URL returned and the CallSid, instead of
   * dialling through POST /twilio/voice.
   */
  readonly answered?: { readonly twiml: string; readonly callSid: string };
  /** When the tenant has twilio.authToken: sign the webhook like Twilio (with publicUrl as the signed base). */
  readonly authToken?: string;
  readonly publicUrl?: string;
  /** Agent silence that means it finished its reply. */
  readonly quietMs?: number;
  /** Longest wait for the agent to start replying after the caller spoke. */
  readonly replyTimeoutMs?: number;
  /**
   * Line noise in everything the caller sends, RMS dBFS. Default {@link DEFAULT_NOISE_DBFS}
   * (a quiet line); -40 is a noisy street, -30 very loud.
   */
  readonly noiseDb?: number;
  /** A speakerphone: what the caller hears comes back into the call, delayed and attenuated. */
  readonly echo?: EchoOptions;
  /** The caller hangs up after this long whatever is happening (result.timedOut). Default: no limit. */
  readonly maxCallMs?: number;
  /** Progress lines as the call goes. */
  readonly onLog?: (line: string) => void;
}

export interface UtteranceResult {
  readonly text: string;
  readonly kind: 'say' | 'wav' | 'dtmf';
  /**
   * From the end of the caller's speech to the start of the agent's next stretch of speech as the
   * caller heard it; absent when none came within replyTimeoutMs (and for backchannels).
   */
  readonly heardLatencyMs?: number;
  /** The step was spoken over the agent on purpose to interrupt it (bargeInAfterMs). */
  readonly bargeIn: boolean;
  /** The step was an acknowledgement over the agent (backchannelAfterMs): the agent should go on. */
  readonly backchannel: boolean;
  /** When the caller started and finished speaking (last voiced sample), ms since the stream opened. */
  readonly speechStartMs: number;
  readonly speechEndMs?: number;
  /** The agent started talking while the caller was still mid-utterance (e.g. during a pause in it). */
  readonly cutOff: boolean;
  /** Agent audio heard, from the cut-off until the caller finished. */
  readonly cutOffHeardMs: number;
  /** The server cleared the agent's audio while this utterance was spoken (the caller's barge-in worked). */
  readonly agentStopped: boolean;
  /**
   * A backchannel that stopped the agent: from the end of the caller's speech to the agent being heard
   * again (it went on, or answered), before the next step; absent when it stayed silent till then.
   */
  readonly resumedAfterMs?: number;
}

export interface ClearReceived {
  /** ms since the stream opened. */
  readonly atMs: number;
  /** Whether the caller was speaking (or had just stopped) — false means a false interruption. */
  readonly duringCallerSpeech: boolean;
}

export interface SimulatedCallResult {
  readonly callSid: string;
  readonly streamSid: string;
  readonly twiml: string;
  readonly utterances: UtteranceResult[];
  readonly clearsReceived: number;
  readonly clears: ClearReceived[];
  /** Clears while the caller was not speaking: the agent stopped for echo, noise or nothing. */
  readonly falseInterruptions: number;
  /** Utterances the agent talked over before the caller finished. */
  readonly cutOffs: number;
  readonly marksEchoed: number;
  /** Everything the caller heard, 8 kHz PCM16. */
  readonly heard: Int16Array;
  readonly durationMs: number;
  /** The caller hung up at maxCallMs. */
  readonly timedOut: boolean;
  readonly closedBy: 'caller' | 'server';
  readonly closeCode: number;
  readonly closeReason: string;
}

type PlayItem = { kind: 'audio'; samples: Int16Array; /** When it reached the handset (ms since the call started). */ arrivedMs: number } | { kind: 'mark'; name: string };

/** Index just past the last sample louder than the line-noise floor. */
function voicedEnd(samples: Int16Array): number {
  for (let i = samples.length - 1; i >= 0; i--) if (Math.abs(samples[i] as number) > 4 * LINE_NOISE_PEAK) return i + 1;
  return 0;
}

/** Index of the first sample louder than the line-noise floor (the length when there is none). */
function voicedStart(samples: Int16Array): number {
  for (let i = 0; i < samples.length; i++) if (Math.abs(samples[i] as number) > 4 * LINE_NOISE_PEAK) return i;
  return samples.length;
}

export function randomSid(prefix: 'CA' | 'MZ' | 'AC'): string {
  return prefix + randomBytes(16).toString('hex');
}

/** Synthesised lines by text: many simulated callers say the same things, and flite costs CPU. */
const fliteCache = new Map<string, Promise<Int16Array>>();

function fliteLine(text: string): Promise<Int16Array> {
  let audio = fliteCache.get(text);
  if (!audio) {
    audio = speakWithFlite(text, { sampleRateHz: RATE_HZ });
    fliteCache.set(text, audio);
    audio.catch(() => fliteCache.delete(text));
  }
  return audio;
}

/**
 * Speech for one step, 8 kHz PCM16. The parts of a `say` list join with no silence but the pauses written
 * between them: flite starts and ends each line with ~150 ms of its own, which at a join would make a
 * `{ pauseMs: 700 }` a silence of ~1 s.
 */
export async function stepAudio(step: CallStep): Promise<Int16Array> {
  if (step.dtmf !== undefined) return new Int16Array(0);
  if (step.wav) {
    const wav = parseWav(await readFile(step.wav));
    return resample(wav.samples, wav.sampleRateHz, RATE_HZ);
  }
  const say = step.say ?? '';
  if (typeof say === 'string') return fliteLine(say);
  const last = say.length - 1;
  const parts = await Promise.all(
    say.map(async (p, i) => {
      if (typeof p !== 'string') return new Int16Array(Math.round((p.pauseMs * RATE_HZ) / 1000));
      const line = await fliteLine(p);
      return line.subarray(i > 0 ? voicedStart(line) : 0, i < last ? voicedEnd(line) : line.length);
    }),
  );
  return concatPcm16(parts);
}

/** How a step is shown in logs and reports. */
export function stepLabel(step: CallStep): string {
  if (step.dtmf !== undefined) return `(keys ${step.dtmf})`;
  if (step.wav) return step.wav;
  const say = step.say ?? '';
  if (typeof say === 'string') return say;
  return say.map((p) => (typeof p === 'string' ? p : `(${p.pauseMs} ms)`)).join(' ');
}

function isSpoken(step: CallStep): boolean {
  return step.say !== undefined || step.wav !== undefined || step.dtmf !== undefined;
}

/** Parses the <Stream url> and its <Parameter>s out of TwiML. */
export function parseStreamTwiml(twiml: string): { url: string; parameters: Record<string, string> } | undefined {
  const decode = (s: string): string => s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&');
  const m = /<Stream\b[^>]*\burl="([^"]*)"/.exec(twiml);
  if (!m?.[1]) return undefined;
  const parameters: Record<string, string> = {};
  for (const p of twiml.matchAll(/<Parameter\b[^>]*\bname="([^"]*)"[^>]*\bvalue="([^"]*)"/g)) parameters[decode(p[1] ?? '')] = decode(p[2] ?? '');
  return { url: decode(m[1]), parameters };
}

export async function placeSimulatedCall(o: SimulatedCallOptions): Promise<SimulatedCallResult> {
  if (o.echo && !(o.echo.delayMs >= FRAME_MS)) throw new Error(`echo.delayMs must be at least ${FRAME_MS} ms`);
  const callSid = o.answered?.callSid ?? randomSid('CA');
  const accountSid = randomSid('AC');
  const streamSid = randomSid('MZ');
  const audio = await Promise.all(o.steps.map(stepAudio));
  const twiml = o.answered?.twiml ?? (await dialIn(o, callSid, accountSid));
  const stream = parseStreamTwiml(twiml);
  if (!stream) throw new Error(`voice webhook did not connect a stream: ${twiml}`);
  return runStream(o, { callSid, accountSid, streamSid, twiml, stream, audio });
}

/** The voice webhook, as Twilio posts it for an incoming call; returns the TwiML. */
async function dialIn(o: SimulatedCallOptions, callSid: string, accountSid: string): Promise<string> {
  const params: Record<string, string> = {
    AccountSid: accountSid,
    ApiVersion: '2010-04-01',
    CallSid: callSid,
    CallStatus: 'ringing',
    Direction: 'inbound',
    From: o.from ?? '+15555550123',
    To: o.to,
  };
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
  if (o.authToken) headers['x-twilio-signature'] = twilioSignature(o.authToken, `${o.publicUrl ?? o.baseUrl}/twilio/voice`, params);
  const res = await fetch(`${o.baseUrl}/twilio/voice`, { method: 'POST', headers, body: new URLSearchParams(params).toString() });
  const twiml = await res.text();
  if (!res.ok) throw new Error(`voice webhook answered HTTP ${res.status}: ${twiml}`);
  return twiml;
}

/** One utterance as it happens. */
interface LiveUtterance {
  text: string;
  kind: 'say' | 'wav' | 'dtmf';
  bargeIn: boolean;
  backchannel: boolean;
  speechStartMs: number;
  speechEndMs?: number;
  /** First agent onset after the speech ended: the reply as heard. */
  replyAtMs?: number;
  cutOffHeardMs: number;
  agentStopped: boolean;
}

async function runStream(
  o: SimulatedCallOptions,
  c: { callSid: string; accountSid: string; streamSid: string; twiml: string; stream: { url: string; parameters: Record<string, string> }; audio: Int16Array[] },
): Promise<SimulatedCallResult> {
  const { callSid, accountSid, streamSid, twiml, stream, audio } = c;
  const log = o.onLog ?? (() => {});
  const quietMs = o.quietMs ?? 1200;
  const replyTimeoutMs = o.replyTimeoutMs ?? 10_000;
  const noiseAmplitude = noisePeak(o.noiseDb);
  const echoLine = o.echo ? new DelayLine(Math.round((o.echo.delayMs * RATE_HZ) / 1000)) : undefined;
  const echoGain = o.echo ? 10 ** (-o.echo.attenuationDb / 20) : 0;

  // The TwiML names the public host; a simulated call reaches the same path on the local server.
  const streamPath = new URL(stream.url);
  const wsUrl = `${o.baseUrl.replace(/^http/, 'ws')}${streamPath.pathname}${streamPath.search}`;
  const ws = new WebSocket(wsUrl, { perMessageDeflate: false });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });

  let seq = 1;
  const send = (msg: Record<string, unknown>): void => {
    if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ ...msg, sequenceNumber: String(seq++) }));
  };
  ws.send(JSON.stringify({ event: 'connected', protocol: 'Call', version: '1.0.0' }));
  send({
    event: 'start',
    streamSid,
    start: {
      accountSid,
      streamSid,
      callSid,
      tracks: ['inbound'],
      mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: RATE_HZ, channels: 1 },
      customParameters: stream.parameters,
    },
  });

  const t0 = performance.now();
  const elapsed = (): number => performance.now() - t0;

  // 2. The handset: playback queue, marks, clear.
  const playQueue: PlayItem[] = [];
  const heardChunks: Int16Array[] = [];
  const clears: ClearReceived[] = [];
  const lives: LiveUtterance[] = [];
  /** The utterance being spoken or awaiting its reply. */
  let live: LiveUtterance | undefined;
  let marksEchoed = 0;
  let lastAudibleAtMs = -Infinity;
  let clearedSinceAudible = false;
  let closed: { by: 'caller' | 'server'; code: number; reason: string } | undefined;
  const echoMark = (name: string): void => {
    marksEchoed++;
    send({ event: 'mark', streamSid, mark: { name } });
  };
  const callerSpeakingAt = (atMs: number): boolean =>
    lives.some((u) => atMs >= u.speechStartMs && atMs <= (u.speechEndMs ?? Number.POSITIVE_INFINITY) + CLEAR_GRACE_MS);
  ws.on('message', (data) => {
    let msg: { event?: string; media?: { payload?: string }; mark?: { name?: string } };
    try {
      msg = JSON.parse(data.toString());
    } catch {
      return;
    }
    if (msg.event === 'media' && msg.media?.payload) {
      // Messages may carry several 20 ms frames: the handset plays one frame per tick.
      const samples = mulawDecode(Buffer.from(msg.media.payload, 'base64'));
      const arrivedMs = elapsed();
      for (let at = 0; at < samples.length; at += FRAME_SAMPLES) playQueue.push({ kind: 'audio', samples: samples.subarray(at, at + FRAME_SAMPLES), arrivedMs });
    }
    else if (msg.event === 'mark' && msg.mark?.name) playQueue.push({ kind: 'mark', name: msg.mark.name });
    else if (msg.event === 'clear') {
      // Twilio empties its buffer and reports the marks that were in it.
      for (const item of playQueue.splice(0)) if (item.kind === 'mark') echoMark(item.name);
      const atMs = elapsed();
      const duringCallerSpeech = callerSpeakingAt(atMs);
      clears.push({ atMs: Math.round(atMs), duringCallerSpeech });
      clearedSinceAudible = true;
      if (duringCallerSpeech && live && atMs >= live.speechStartMs) live.agentStopped = true;
      if (duringCallerSpeech) log('  (agent audio cleared)');
      else {
        const n = clears.filter((x) => !x.duringCallerSpeech).length;
        if (n <= FALSE_INTERRUPTION_LOG_LINES) log('  (agent audio cleared while the caller was silent: a false interruption)');
        if (n === FALSE_INTERRUPTION_LOG_LINES) log('  (further false interruptions are counted, not shown)');
      }
    }
  });
  ws.on('close', (code, reason) => {
    closed ??= { by: 'server', code, reason: reason.toString() };
  });

  /** One frame of audible agent audio reached the caller's ear. */
  const agentHeard = (nowMs: number): void => {
    const onset = clearedSinceAudible || nowMs - lastAudibleAtMs >= ONSET_GAP_MS;
    clearedSinceAudible = false;
    lastAudibleAtMs = nowMs;
    const u = live;
    if (!u) return;
    if (u.speechEndMs === undefined) {
      // The caller is mid-utterance: agent speech starting now talks over it. (Keys are not speech.)
      if (u.kind !== 'dtmf' && (onset || u.cutOffHeardMs > 0)) u.cutOffHeardMs += FRAME_MS;
    } else if (onset && u.replyAtMs === undefined && nowMs > u.speechEndMs) {
      u.replyAtMs = nowMs;
    }
  };

  // 3. Real-time clock: every 20 ms send one caller frame and play one agent frame.
  let speaking: Int16Array | undefined;
  let speakPos = 0;
  /** Sample index after the last audible sample of what is being said (its trailing quiet is not speech). */
  let speakVoicedEnd = 0;
  let chunk = 0;
  const silenceFrame = new Int16Array(FRAME_SAMPLES);
  const outFrame = new Int16Array(FRAME_SAMPLES);
  const noise = { seed: 0x5eed };
  /** One tick of the handset: `dueMs` is when it was due (later when this process was stalled and catches up). */
  const tick = (dueMs: number): void => {
    const nowMs = elapsed();
    const frame = outFrame;
    frame.fill(0);
    if (speaking) {
      frame.set(speaking.subarray(speakPos, speakPos + FRAME_SAMPLES));
      speakPos += FRAME_SAMPLES;
      if (live && live.speechEndMs === undefined && speakPos >= speakVoicedEnd) live.speechEndMs = nowMs;
      if (speakPos >= speaking.length) speaking = undefined;
    }
    if (echoLine) {
      const echo = echoLine.take(FRAME_SAMPLES);
      for (let i = 0; i < FRAME_SAMPLES; i++) frame[i] = Math.max(-32768, Math.min(32767, (frame[i] as number) + Math.round((echo[i] as number) * echoGain)));
    }
    addLineNoise(frame, noise, noiseAmplitude);
    const bytes = mulawEncode(frame);
    send({ event: 'media', streamSid, media: { track: 'inbound', chunk: String(++chunk), timestamp: String(chunk * FRAME_MS), payload: Buffer.from(bytes).toString('base64') } });
    // Play one frame of agent audio; marks right behind played audio are reached now.
    drainMarks();
    // A phone cannot play audio before it arrives: when this process was stalled, the ticks it catches up
    // on (due in the past) play only what had arrived by then, or the echo would come back earlier than the
    // audio left the server. Rounded to the nearest tick.
    const head = playQueue[0];
    const item = head?.kind === 'audio' && head.arrivedMs > dueMs + FRAME_MS / 2 ? undefined : playQueue.shift();
    let played: Int16Array = silenceFrame;
    if (item?.kind === 'audio') {
      played = item.samples;
      if (rmsDbfs(item.samples) > AUDIBLE_DBFS) agentHeard(nowMs);
    }
    heardChunks.push(played);
    if (echoLine) {
      echoLine.push(played);
      if (played.length < FRAME_SAMPLES) echoLine.push(silenceFrame.subarray(played.length));
    }
    drainMarks();
  };
  function drainMarks(): void {
    for (let head = playQueue[0]; head?.kind === 'mark'; head = playQueue[0]) {
      playQueue.shift();
      echoMark(head.name);
    }
  }
  let nextTickMs = 0;
  const timer = (async () => {
    while (!closed) {
      tick(nextTickMs);
      nextTickMs += FRAME_MS;
      const wait = nextTickMs - elapsed();
      await new Promise((r) => setTimeout(r, Math.max(0, wait)));
    }
  })();

  const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
  const overtime = (): boolean => o.maxCallMs !== undefined && elapsed() >= o.maxCallMs;
  const over = (): boolean => closed !== undefined || overtime();
  /** Sleeps `ms`, or less if the call ends or runs out of time. */
  const pause = async (ms: number): Promise<void> => {
    const until = elapsed() + ms;
    while (!over() && elapsed() < until) await sleep(Math.min(FRAME_MS, until - elapsed()));
  };
  /** Waits until the agent has been quiet for quietMs (or the call closed); a real caller would not wait forever. */
  const untilQuiet = async (): Promise<void> => {
    const giveUpAt = elapsed() + QUIET_WAIT_CAP_MS;
    while (!over() && (playQueue.length > 0 || elapsed() - lastAudibleAtMs < quietMs)) {
      if (elapsed() >= giveUpAt) {
        log(`  (the agent has not stopped talking for ${QUIET_WAIT_CAP_MS / 1000} s: the caller speaks anyway)`);
        return;
      }
      await sleep(FRAME_MS);
    }
  };
  /** Waits until the agent starts replying to the current utterance (or at all, before the caller spoke). */
  const untilReplyStarts = async (): Promise<boolean> => {
    const deadline = elapsed() + replyTimeoutMs;
    const started = (): boolean => (live === undefined ? lastAudibleAtMs > 0 : live.replyAtMs !== undefined);
    while (!over() && !started() && elapsed() < deadline) await sleep(FRAME_MS);
    return started();
  };
  const begin = (step: CallStep, text: string): LiveUtterance => {
    const u: LiveUtterance = {
      text,
      kind: step.dtmf !== undefined ? 'dtmf' : step.wav !== undefined ? 'wav' : 'say',
      bargeIn: step.bargeInAfterMs !== undefined,
      backchannel: step.backchannelAfterMs !== undefined,
      speechStartMs: elapsed(),
      cutOffHeardMs: 0,
      agentStopped: false,
    };
    lives.push(u);
    live = u;
    return u;
  };
  const speak = async (samples: Int16Array): Promise<void> => {
    speakPos = 0;
    speakVoicedEnd = voicedEnd(samples);
    speaking = samples;
    while (!closed && speaking) await sleep(FRAME_MS);
  };

  try {
    const greeted = await untilReplyStarts(); // the greeting
    if (!greeted) log('  (no greeting heard)');
    for (const [i, step] of o.steps.entries()) {
      if (over()) break;
      const samples = audio[i] as Int16Array;
      const label = stepLabel(step);
      const overAgentMs = step.bargeInAfterMs ?? step.backchannelAfterMs;
      if (overAgentMs !== undefined) {
        // The agent is answering the previous utterance (or greeting): talk over it.
        await pause(overAgentMs);
        log(`caller (${step.bargeInAfterMs !== undefined ? 'interrupting' : 'backchannel'}): ${label}`);
      } else {
        await untilQuiet();
        if (step.pauseMs !== undefined) {
          log(`caller: (silent for ${step.pauseMs} ms)`);
          await pause(step.pauseMs);
          if (!isSpoken(step)) continue;
        }
        log(`caller: ${label}`);
      }
      if (over()) break;
      const u = begin(step, label);
      if (step.dtmf !== undefined) {
        const digits = [...step.dtmf];
        for (const [i, digit] of digits.entries()) {
          if (i > 0) await sleep(100);
          send({ event: 'dtmf', streamSid, dtmf: { track: 'inbound_track', digit } });
        }
        // The last key is the end of the caller's turn: an answer may start right after it.
        u.speechEndMs = elapsed();
      } else await speak(samples);
      if (u.cutOffHeardMs > 0) log(`  (the agent talked over the caller: ${u.cutOffHeardMs} ms of agent audio before the caller finished)`);
      if (u.backchannel) {
        // An acknowledgement expects no answer: the agent should simply go on. (A clear can
        // still come just after the caller stopped.)
        await pause(CLEAR_GRACE_MS);
        log(u.agentStopped ? '  (the agent stopped for a backchannel)' : '  (the agent went on talking)');
        continue;
      }
      const replied = await untilReplyStarts();
      if (replied && u.speechEndMs !== undefined && u.replyAtMs !== undefined) log(`  agent answered after ${Math.round(u.replyAtMs - u.speechEndMs)} ms (as heard by the caller)`);
      else log('  (no reply heard)');
    }
    await untilQuiet();
  } finally {
    if (!closed) {
      send({ event: 'stop', streamSid, stop: { accountSid, callSid } });
      closed = { by: 'caller', code: 1000, reason: overtime() ? 'caller hung up: maxCallMs reached' : 'caller hung up' };
      ws.close(1000);
    }
    await timer;
  }
  const timedOut = closed.by === 'caller' && overtime();
  if (timedOut) log(`  (hung up after ${o.maxCallMs} ms: the call ran too long)`);
  const durationMs = Math.round(elapsed());
  const heard = concatPcm16(heardChunks);
  const utterances: UtteranceResult[] = lives.map((u) => ({
    text: u.text,
    kind: u.kind,
    // A backchannel awaits no answer: agent audio after it is the same reply going on.
    heardLatencyMs: !u.backchannel && u.speechEndMs !== undefined && u.replyAtMs !== undefined ? Math.round(u.replyAtMs - u.speechEndMs) : undefined,
    bargeIn: u.bargeIn,
    backchannel: u.backchannel,
    speechStartMs: Math.round(u.speechStartMs),
    speechEndMs: u.speechEndMs === undefined ? undefined : Math.round(u.speechEndMs),
    cutOff: u.cutOffHeardMs > 0,
    cutOffHeardMs: u.cutOffHeardMs,
    agentStopped: u.agentStopped,
    ...(u.backchannel && u.agentStopped && u.speechEndMs !== undefined && u.replyAtMs !== undefined
      ? { resumedAfterMs: Math.round(u.replyAtMs - u.speechEndMs) }
      : {}),
  }));
  return {
    callSid,
    streamSid,
    twiml,
    utterances,
    clearsReceived: clears.length,
    clears,
    falseInterruptions: clears.filter((x) => !x.duringCallerSpeech).length,
    cutOffs: utterances.filter((u) => u.cutOff).length,
    marksEchoed,
    heard,
    durationMs,
    timedOut,
    closedBy: closed.by,
    closeCode: closed.code,
    closeReason: closed.reason,
  };
}
