import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import WebSocket from 'ws';
import { speakWithFlite } from '../audio/flite-voice.js';
import { mulawDecode, mulawEncode } from '../audio/mulaw.js';
import { rmsDbfs } from '../audio/pcm16.js';
import { resample } from '../audio/resampler.js';
import { parseWav } from '../audio/wav.js';
import { twilioSignature } from '../transports/twilio/signature.js';

/**
 * A simulated phone caller that speaks Twilio's side of the protocol: it posts the voice webhook
 * as Twilio would, opens the media stream the TwiML names, sends its speech at real time in 20 ms
 * mu-law frames, and plays the agent's audio at real time like a handset — echoing marks when
 * playback reaches them and dropping buffered audio on `clear`.
 */

const RATE_HZ = 8000;
const FRAME_SAMPLES = 160;
const FRAME_MS = 20;
/** Agent audio louder than this counts as the agent talking. */
const AUDIBLE_DBFS = -45;
/**
 * Peak of the line noise added to everything the caller sends (about -66 dBFS RMS). A phone line
 * is never digitally silent; deterministic so runs are repeatable.
 */
const LINE_NOISE_PEAK = 24;

/** Adds deterministic low-level noise, like a handset microphone and line, in place. */
function addLineNoise(frame: Int16Array, state: { seed: number }): void {
  for (let i = 0; i < frame.length; i++) {
    state.seed = (Math.imul(state.seed, 1103515245) + 12345) >>> 0;
    const noise = ((state.seed >>> 16) / 0xffff - 0.5) * 2 * LINE_NOISE_PEAK;
    frame[i] = Math.max(-32768, Math.min(32767, (frame[i] as number) + Math.round(noise)));
  }
}

export interface CallStep {
  /** Text the caller says (spoken with flite's rms voice). */
  readonly say?: string;
  /** A WAV file the caller plays into the call instead of `say`. */
  readonly wav?: string;
  /** Speak while the agent is talking, this long after its reply starts (a barge-in). */
  readonly bargeInAfterMs?: number;
  /** Key presses sent as Media Streams `dtmf` messages (100 ms apart) instead of speech. */
  readonly dtmf?: string;
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
  /** Progress lines as the call goes. */
  readonly onLog?: (line: string) => void;
}

export interface UtteranceResult {
  readonly text: string;
  /** From the end of the caller's speech to the first agent audio the caller heard. */
  readonly heardLatencyMs?: number;
  readonly bargeIn: boolean;
}

export interface SimulatedCallResult {
  readonly callSid: string;
  readonly streamSid: string;
  readonly twiml: string;
  readonly utterances: UtteranceResult[];
  readonly clearsReceived: number;
  readonly marksEchoed: number;
  /** Everything the caller heard, 8 kHz PCM16. */
  readonly heard: Int16Array;
  readonly closedBy: 'caller' | 'server';
  readonly closeCode: number;
  readonly closeReason: string;
}

type PlayItem = { kind: 'audio'; samples: Int16Array } | { kind: 'mark'; name: string };

/** Index just past the last sample louder than the line-noise floor. */
function voicedEnd(samples: Int16Array): number {
  for (let i = samples.length - 1; i >= 0; i--) if (Math.abs(samples[i] as number) > 4 * LINE_NOISE_PEAK) return i + 1;
  return 0;
}

export function randomSid(prefix: 'CA' | 'MZ' | 'AC'): string {
  return prefix + randomBytes(16).toString('hex');
}

/** Synthesised lines by text: many simulated callers say the same things, and flite costs CPU. */
const fliteCache = new Map<string, Promise<Int16Array>>();

/** Speech for one step, 8 kHz PCM16. */
async function stepAudio(step: CallStep): Promise<Int16Array> {
  if (step.dtmf !== undefined) return new Int16Array(0);
  if (step.wav) {
    const wav = parseWav(await readFile(step.wav));
    return resample(wav.samples, wav.sampleRateHz, RATE_HZ);
  }
  const text = step.say ?? '';
  let audio = fliteCache.get(text);
  if (!audio) {
    audio = speakWithFlite(text, { sampleRateHz: RATE_HZ });
    fliteCache.set(text, audio);
    audio.catch(() => fliteCache.delete(text));
  }
  return audio;
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

async function runStream(
  o: SimulatedCallOptions,
  c: { callSid: string; accountSid: string; streamSid: string; twiml: string; stream: { url: string; parameters: Record<string, string> }; audio: Int16Array[] },
): Promise<SimulatedCallResult> {
  const { callSid, accountSid, streamSid, twiml, stream, audio } = c;
  const log = o.onLog ?? (() => {});
  const quietMs = o.quietMs ?? 1200;
  const replyTimeoutMs = o.replyTimeoutMs ?? 10_000;

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

  // 2. The handset: playback queue, marks, clear.
  const playQueue: PlayItem[] = [];
  const heardChunks: Int16Array[] = [];
  let clearsReceived = 0;
  let marksEchoed = 0;
  let lastAudibleAtMs = -Infinity;
  let firstAudibleAfterMs: number | undefined;
  let closed: { by: 'caller' | 'server'; code: number; reason: string } | undefined;
  const echoMark = (name: string): void => {
    marksEchoed++;
    send({ event: 'mark', streamSid, mark: { name } });
  };
  ws.on('message', (data) => {
    let msg: { event?: string; media?: { payload?: string }; mark?: { name?: string } };
    try {
      msg = JSON.parse(data.toString());
    } catch {
      return;
    }
    if (msg.event === 'media' && msg.media?.payload) playQueue.push({ kind: 'audio', samples: mulawDecode(Buffer.from(msg.media.payload, 'base64')) });
    else if (msg.event === 'mark' && msg.mark?.name) playQueue.push({ kind: 'mark', name: msg.mark.name });
    else if (msg.event === 'clear') {
      clearsReceived++;
      // Twilio empties its buffer and reports the marks that were in it.
      for (const item of playQueue.splice(0)) if (item.kind === 'mark') echoMark(item.name);
      log('  (agent audio cleared)');
    }
  });
  ws.on('close', (code, reason) => {
    closed ??= { by: 'server', code, reason: reason.toString() };
  });

  // 3. Real-time clock: every 20 ms send one caller frame and play one agent frame.
  let speaking: Int16Array | undefined;
  let speakPos = 0;
  /** Sample index after the last audible sample of what is being said (its trailing quiet is not speech). */
  let speakVoicedEnd = 0;
  let speechEndedAtMs: number | undefined;
  let chunk = 0;
  const silenceFrame = new Int16Array(FRAME_SAMPLES);
  const outFrame = new Int16Array(FRAME_SAMPLES);
  const noise = { seed: 0x5eed };
  const t0 = performance.now();
  const tick = (): void => {
    const nowMs = performance.now() - t0;
    const frame = outFrame;
    frame.fill(0);
    if (speaking) {
      frame.set(speaking.subarray(speakPos, speakPos + FRAME_SAMPLES));
      speakPos += FRAME_SAMPLES;
      if (speechEndedAtMs === undefined && speakPos >= speakVoicedEnd) speechEndedAtMs = nowMs;
      if (speakPos >= speaking.length) speaking = undefined;
    }
    addLineNoise(frame, noise);
    const bytes = mulawEncode(frame);
    send({ event: 'media', streamSid, media: { track: 'inbound', chunk: String(++chunk), timestamp: String(chunk * FRAME_MS), payload: Buffer.from(bytes).toString('base64') } });
    // Play one frame of agent audio; marks right behind played audio are reached now.
    drainMarks();
    const item = playQueue.shift();
    if (item?.kind === 'audio') {
      heardChunks.push(item.samples);
      if (rmsDbfs(item.samples) > AUDIBLE_DBFS) {
        lastAudibleAtMs = nowMs;
        if (speechEndedAtMs !== undefined && firstAudibleAfterMs === undefined && nowMs > speechEndedAtMs) firstAudibleAfterMs = nowMs;
      }
    } else {
      heardChunks.push(silenceFrame);
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
      tick();
      nextTickMs += FRAME_MS;
      const wait = nextTickMs - (performance.now() - t0);
      await new Promise((r) => setTimeout(r, Math.max(0, wait)));
    }
  })();

  const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
  const elapsed = (): number => performance.now() - t0;
  /** Waits until the agent has been quiet for quietMs (or the call closed). */
  const untilQuiet = async (): Promise<void> => {
    while (!closed && (playQueue.length > 0 || elapsed() - lastAudibleAtMs < quietMs)) await sleep(FRAME_MS);
  };
  /** Waits until the agent starts talking after the caller's last speech (or at all, before the caller spoke). */
  const untilReplyStarts = async (): Promise<boolean> => {
    const deadline = elapsed() + replyTimeoutMs;
    const started = (): boolean => (speechEndedAtMs === undefined && utterances.length === 0 ? lastAudibleAtMs > 0 : firstAudibleAfterMs !== undefined);
    while (!closed && !started() && elapsed() < deadline) await sleep(FRAME_MS);
    return started();
  };
  const speak = async (samples: Int16Array): Promise<void> => {
    speechEndedAtMs = undefined;
    firstAudibleAfterMs = undefined;
    speakPos = 0;
    speakVoicedEnd = voicedEnd(samples);
    speaking = samples;
    while (!closed && speaking) await sleep(FRAME_MS);
  };

  const utterances: UtteranceResult[] = [];
  try {
    const greeted = await untilReplyStarts(); // the greeting
    if (!greeted) log('  (no greeting heard)');
    for (const [i, step] of o.steps.entries()) {
      if (closed) break;
      const samples = audio[i] as Int16Array;
      const label = step.say ?? step.wav ?? (step.dtmf !== undefined ? `(keys ${step.dtmf})` : '');
      if (step.bargeInAfterMs !== undefined) {
        // The agent is answering the previous utterance (or greeting): talk over it.
        await sleep(step.bargeInAfterMs);
        log(`caller (interrupting): ${label}`);
      } else {
        await untilQuiet();
        log(`caller: ${label}`);
      }
      if (step.dtmf !== undefined) {
        for (const digit of step.dtmf) {
          send({ event: 'dtmf', streamSid, dtmf: { track: 'inbound_track', digit } });
          await sleep(100);
        }
        speechEndedAtMs = performance.now() - t0;
        firstAudibleAfterMs = undefined;
      } else await speak(samples);
      const replied = await untilReplyStarts();
      const heardLatencyMs = replied && speechEndedAtMs !== undefined && firstAudibleAfterMs !== undefined ? Math.round(firstAudibleAfterMs - speechEndedAtMs) : undefined;
      utterances.push({ text: label, heardLatencyMs, bargeIn: step.bargeInAfterMs !== undefined });
      if (heardLatencyMs !== undefined) log(`  agent answered after ${heardLatencyMs} ms (as heard by the caller)`);
      else log('  (no reply heard)');
    }
    await untilQuiet();
  } finally {
    if (!closed) {
      send({ event: 'stop', streamSid, stop: { accountSid, callSid } });
      closed = { by: 'caller', code: 1000, reason: 'caller hung up' };
      ws.close(1000);
    }
    await timer;
  }
  const total = heardChunks.reduce((n, c) => n + c.length, 0);
  const heard = new Int16Array(total);
  let off = 0;
  for (const c of heardChunks) {
    heard.set(c, off);
    off += c.length;
  }
  return { callSid, streamSid, twiml, utterances, clearsReceived, marksEchoed, heard, closedBy: closed.by, closeCode: closed.code, closeReason: closed.reason };
}
