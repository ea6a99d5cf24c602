import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { AudioFrame } from '../audio/frame.js';
import { EnergyVad } from '../audio/energy-vad.js';
import { createLogger } from '../observability/logger.js';
import { createMetrics } from '../observability/metrics.js';
import type { ChatRequest, LlmDelta, LlmProvider, TtsProvider } from '../providers/types.js';
import { openStore } from '../store/store.js';
import { agentSchema } from '../tenants/schema.js';
import type { MediaTransport } from '../transports/types.js';
import { CallRecorder } from './call-recorder.js';
import { frame, RATE, ScriptedStt } from './session-test-support.js';
import { VoiceSession, type VoiceSessionDeps } from './voice-session.js';

/** Agent that waits `delayMs`, then echoes the last user message; records every request. */
class EchoLlm implements LlmProvider {
  readonly name = 'echo';
  readonly requests: ChatRequest[] = [];
  constructor(private readonly delayMs: number) {}
  async *complete(req: ChatRequest, o: { signal: AbortSignal }): AsyncIterable<LlmDelta> {
    this.requests.push(req);
    await new Promise((r) => setTimeout(r, this.delayMs));
    if (o.signal.aborted) return;
    const last = req.messages.at(-1);
    yield { kind: 'text', text: `You said ${last?.content}.` };
  }
}

/** TTS that yields 100 ms of tone per text chunk. */
class ToneTts implements TtsProvider {
  readonly name = 'tone';
  readonly sampleRateHz = RATE;
  async *synthesize(text: AsyncIterable<string>): AsyncIterable<AudioFrame> {
    for await (const _ of text) for (let i = 0; i < 5; i++) yield frame(true, i);
  }
}

class RecordingTransport implements MediaTransport {
  readonly sampleRateHz = RATE;
  readonly events: string[] = [];
  play(): void {}
  mark(name: string): void {
    this.events.push(`mark:${name}`);
  }
  clear(): void {
    this.events.push('clear');
  }
  hangup(reason: string): void {
    this.events.push(`hangup:${reason}`);
  }
}

/** A session with these providers on a fresh store; the rest (energy VAD, an echo agent) as a real call has it. */
async function newSession(parts: Pick<VoiceSessionDeps, 'transport' | 'stt' | 'llm' | 'tts'>) {
  const store = await openStore({ dataDir: await mkdtemp(join(tmpdir(), 'parley-session-')) });
  const call = await store.calls.create({ tenantId: 't', direction: 'inbound', fromNumber: '+1', toNumber: '+2', startedAtMs: Date.now() });
  const metrics = createMetrics({ collectDefaults: false });
  const session = new VoiceSession({
    ...parts,
    vad: new EnergyVad({ sampleRateHz: RATE }),
    agent: agentSchema.parse({ greeting: 'Hi.', llm: { provider: 'echo' } }),
    recorder: new CallRecorder(store, call.id, createLogger({ level: 'silent' })),
    metrics,
    log: createLogger({ level: 'silent' }),
    callControl: { transfer: async () => {} },
  });
  return { store, call, session, metrics };
}

test('the TTS and the LLM are readied again when the caller starts talking and when their turn ends, so idle-closed connections are back before the reply', async () => {
  let prepares = 0;
  let llmPrepares = 0;
  class PreparingTts extends ToneTts {
    prepare(): void {
      prepares++;
    }
  }
  class PreparingLlm extends EchoLlm {
    prepare(): void {
      llmPrepares++;
    }
  }
  const { store, session } = await newSession({ transport: new RecordingTransport(), stt: new ScriptedStt(['hello there']), llm: new PreparingLlm(0), tts: new PreparingTts() });
  let n = 0;
  const feed = async (voiced: boolean, frames: number): Promise<number> => {
    for (let i = 0; i < frames; i++) {
      session.onAudio(frame(voiced, n++), performance.now());
      await new Promise((r) => setTimeout(r, 2));
    }
    return prepares;
  };
  session.onStart();
  await new Promise((r) => setTimeout(r, 300)); // the greeting plays out
  const afterGreeting = prepares;
  assert.equal(afterGreeting, 1, 'readied once while the greeting plays');
  assert.equal(await feed(false, 25), afterGreeting, 'line noise readies nothing');
  assert.equal(llmPrepares, 1, 'the LLM readied once while the greeting plays');
  assert.equal(await feed(true, 30), afterGreeting + 1, 'readied when the caller starts talking');
  assert.equal(llmPrepares, 2, 'the LLM too');
  assert.equal(await feed(false, 40), afterGreeting + 2, 'and again when their turn ends');
  assert.equal(llmPrepares, 3, 'the LLM too');
  session.onEnd('caller_hangup');
  await new Promise((r) => setTimeout(r, 50));
  await store.close();
});

test('when the caller goes on talking before the answer is heard, both parts are answered as one turn', async () => {
  const llm = new EchoLlm(400);
  const transport = new RecordingTransport();
  const { store, call, session, metrics } = await newSession({ transport, stt: new ScriptedStt(['my number is', 'four five six']), llm, tts: new ToneTts() });
  let n = 0;
  const feed = async (voiced: boolean, frames: number): Promise<void> => {
    for (let i = 0; i < frames; i++) {
      session.onAudio(frame(voiced, n++), performance.now());
      await new Promise((r) => setTimeout(r, 2));
    }
  };
  await feed(false, 25); // line noise: the VAD learns the floor
  await feed(true, 30); // "my number is"
  await feed(false, 35); // 700 ms pause: the turn ends, the agent starts thinking (400 ms)
  await feed(true, 30); // "four five six", before the agent said anything
  await feed(false, 35);
  await new Promise((r) => setTimeout(r, 600));
  session.onEnd('caller_hangup');
  await new Promise((r) => setTimeout(r, 50));

  const detail = await store.calls.get(call.id);
  const userTurns = detail?.turns.filter((t) => t.role === 'user').map((t) => t.text);
  assert.deepEqual(userTurns, ['my number is four five six'], 'one merged user turn');
  const lastRequest = llm.requests.at(-1);
  assert.deepEqual(
    lastRequest?.messages.filter((m) => m.role === 'user').map((m) => m.content),
    ['my number is four five six'],
    'the agent was asked about the whole thought, once',
  );
  assert.ok(detail?.events.some((e) => e.type === 'reply.abandoned'));
  assert.match(await metrics.registry.metrics(), /parley_caller_continued_total\{reply_phase="thinking"\} 1/);
  assert.ok(!transport.events.includes('clear'), 'nothing was playing, so nothing to clear');
  await store.close();
});

test('when the stream starts, the STT (at the transport’s rate), the TTS and the LLM are readied, before any caller audio', async () => {
  const prepared: string[] = [];
  class PreparingStt extends ScriptedStt {
    prepare(rate: number): void {
      prepared.push(`stt@${rate}`);
    }
  }
  class PreparingTts extends ToneTts {
    prepare(): void {
      prepared.push('tts');
    }
  }
  class PreparingLlm extends EchoLlm {
    prepare(): void {
      prepared.push('llm');
    }
  }
  const { store, session } = await newSession({ transport: new RecordingTransport(), stt: new PreparingStt([]), llm: new PreparingLlm(0), tts: new PreparingTts() });
  session.onStart();
  assert.deepEqual(prepared, [`stt@${RATE}`, 'tts', 'llm']);
  session.onEnd('caller_hangup');
  await new Promise((r) => setTimeout(r, 20));
  await store.close();
});
