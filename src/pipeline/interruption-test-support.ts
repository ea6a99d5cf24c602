// The call every interruption test starts from: a VoiceSession on a scripted STT, a model that is
// still writing when it is interrupted, a TTS of 1 s tones per sentence and a transport that records
// clears; the caller has asked its first question and the agent has started answering.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AudioFrame } from '../audio/frame.js';
import { EnergyVad } from '../audio/energy-vad.js';
import { createLogger } from '../observability/logger.js';
import { createMetrics } from '../observability/metrics.js';
import type { ChatRequest, LlmDelta, LlmProvider, SttProvider, TtsProvider } from '../providers/types.js';
import { openStore } from '../store/store.js';
import { agentSchema } from '../tenants/schema.js';
import type { MediaTransport } from '../transports/types.js';
import { CallRecorder } from './call-recorder.js';
import { frame, RATE, ScriptedStt } from './session-test-support.js';
import { type SessionTools, VoiceSession } from './voice-session.js';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Answers the first request in three sentences, the later ones 300 ms apart (a model still writing
 * when it is interrupted); later requests get "Answering <last message>." Records whether each
 * request's signal was aborted.
 */
export class SlowLlm implements LlmProvider {
  readonly name = 'slow';
  readonly requests: { req: ChatRequest; signal: AbortSignal }[] = [];
  async *complete(req: ChatRequest, o: { signal: AbortSignal }): AsyncIterable<LlmDelta> {
    this.requests.push({ req, signal: o.signal });
    if (this.requests.length > 1) {
      yield { kind: 'text', text: `Answering ${req.messages.at(-1)?.content}.` };
      return;
    }
    yield { kind: 'text', text: 'Breakfast is served from seven. ' };
    for (const text of ['The pool opens at nine. ', 'The spa is on the top floor.']) {
      await sleep(300);
      if (o.signal.aborted) return;
      yield { kind: 'text', text };
    }
  }
}

/** TTS that yields 1 s of tone per sentence and records what it was asked to say. */
export class ToneTts implements TtsProvider {
  readonly name = 'tone';
  readonly sampleRateHz = RATE;
  readonly said: string[] = [];
  async *synthesize(text: AsyncIterable<string>): AsyncIterable<AudioFrame> {
    for await (const t of text) {
      this.said.push(t);
      for (let i = 0; i < 50; i++) yield frame(true, i);
    }
  }
}

export class RecordingTransport implements MediaTransport {
  readonly sampleRateHz = RATE;
  readonly events: string[] = [];
  played = 0;
  play(): void {
    this.played++;
  }
  mark(): void {}
  clear(): void {
    this.events.push('clear');
  }
  hangup(reason: string): void {
    this.events.push(`hangup:${reason}`);
  }
}

/** The question every call starts with, for PartialThenFinalStt scripts: its words come only as the final. */
export const FIRST_QUESTION = { partial: '', final: 'what is on', finalDelayMs: 0 };

/** `endpointing` and `agent` are merged into the agent's configuration. */
export async function callWith(
  sttTexts: string[] | SttProvider,
  endpointing: Record<string, unknown> = {},
  extra: { llm?: LlmProvider; tools?: SessionTools; agent?: Record<string, unknown>; silenceAfterAnswerStartsFrames?: number } = {},
) {
  const store = await openStore({ dataDir: await mkdtemp(join(tmpdir(), 'parley-resume-')) });
  const call = await store.calls.create({ tenantId: 't', direction: 'inbound', fromNumber: '+1', toNumber: '+2', startedAtMs: Date.now() });
  const llm = new SlowLlm();
  const tts = new ToneTts();
  const transport = new RecordingTransport();
  const metrics = createMetrics({ collectDefaults: false });
  const session = new VoiceSession({
    transport,
    stt: Array.isArray(sttTexts) ? new ScriptedStt(sttTexts) : sttTexts,
    llm: extra.llm ?? llm,
    tts,
    vad: new EnergyVad({ sampleRateHz: RATE }),
    agent: agentSchema.parse({ greeting: 'Hi.', llm: { provider: 'slow' }, endpointing, ...extra.agent }),
    recorder: new CallRecorder(store, call.id, createLogger({ level: 'silent' })),
    metrics,
    log: createLogger({ level: 'silent' }),
    callControl: { transfer: async () => {} },
    ...(extra.tools ? { tools: extra.tools } : {}),
  });
  let n = 0;
  const feed = async (voiced: boolean, frames: number): Promise<void> => {
    for (let i = 0; i < frames; i++) {
      session.onAudio(frame(voiced, n++), performance.now());
      await sleep(1);
    }
  };
  const events = async () => (await store.calls.get(call.id))?.events ?? [];
  const userTurns = async () => (await store.calls.get(call.id))?.turns.filter((t) => t.role === 'user').map((t) => t.text) ?? [];
  const end = async (): Promise<void> => {
    session.onEnd('caller_hangup');
    await sleep(20);
    await store.close();
  };
  // Line noise for the VAD's floor, a question, its turn end: the agent starts answering. Then more
  // silence, so that the caller's next words come 1.5 s (of media time) after the question: past
  // endpointing.continuationWindowMs, an interruption rather than the question going on.
  await feed(false, 25);
  await feed(true, 30);
  await feed(false, 35);
  await sleep(50);
  await feed(false, extra.silenceAfterAnswerStartsFrames ?? 40);
  return { session, llm, tts, transport, metrics, feed, events, userTurns, end };
}

