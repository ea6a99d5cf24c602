/**
 * Cost of echo suppression per 20 ms of call audio (one inbound frame processed plus the outbound reference
 * frame recorded alongside it), over whole simulated calls from a fresh suppressor: a speakerphone call
 * (agent audio from espeak, echoed back 150 ms later, 12 dB down, coloured, with line noise), an
 * echo-free call with the agent talking, and a call where the agent is silent. At 8 and 16 kHz.
 *
 * Then a conversation, with and without that echo: three agent turns, each followed by 8 s in which the
 * caller (flite) talks twice and the agent is silent, as on a real call, where most inbound frames have no
 * agent audio within the echo window. Its frames are timed by phase (`perFrame`): `agentTalking` (while agent
 * audio plays, with the reference frames sent meanwhile), `agentJustStopped` (the 1.5 s after, while that
 * audio is still in the echo window or its reverberation tail) and `noAgentAudio` (the rest).
 *
 * Reports the median and best of 10 runs per scenario, and the worst median as a share of the per-call CPU
 * budget at 500 calls per core (40 µs per 20 ms frame for everything a call does).
 * Prints JSON only. Usage: node dist/bench/echo-suppressor.js [--seconds 20]
 */
import { agentSpeech, callerSpeech, callEvents, simulateSpeakerphone, type AgentAudio, type SpeakerphoneCall } from '../src/audio/echo-test-support.js';
import { EchoSuppressor } from '../src/audio/echo-suppressor.js';

const FRAME_MS = 20;
/** 500 calls per core leave 40 µs of CPU per call per 20 ms frame, for everything the call does. */
const CALLS_PER_CORE_TARGET = 500;

interface Scenario {
  readonly name: string;
  readonly sampleRateHz: number;
  readonly call: SpeakerphoneCall;
}

function measure(s: Scenario, repeats: number) {
  const events = callEvents(s.call);
  const out = new Int16Array((s.sampleRateHz * FRAME_MS) / 1000);
  // Warm up (JIT) on a separate instance, then time fresh instances over the whole call.
  for (let w = 0; w < 3; w++) replay(new EchoSuppressor({ sampleRateHz: s.sampleRateHz }), events, out);
  const perFrameUs: number[] = [];
  let state = '';
  for (let r = 0; r < repeats; r++) {
    const sup = new EchoSuppressor({ sampleRateHz: s.sampleRateHz });
    const t0 = process.hrtime.bigint();
    replay(sup, events, out);
    const ns = Number(process.hrtime.bigint() - t0);
    perFrameUs.push(ns / 1000 / s.call.inbound.length);
    state = sup.state;
  }
  perFrameUs.sort((a, b) => a - b);
  return {
    scenario: s.name,
    sampleRateHz: s.sampleRateHz,
    frames: s.call.inbound.length,
    referenceFrames: s.call.sent.length,
    finalState: state,
    usPerFrameMedian: round(perFrameUs[Math.floor(perFrameUs.length / 2)]!),
    usPerFrameMin: round(perFrameUs[0]!),
  };
}

function replay(sup: EchoSuppressor, events: ReturnType<typeof callEvents>, out: Int16Array): void {
  for (const ev of events) {
    if (ev.kind === 'sent') sup.reference(ev.frame.samples, ev.frame.atMs);
    else if (ev.kind === 'inbound') sup.process(ev.frame.samples, ev.frame.atMs, out);
    else sup.clearReference(ev.atMs);
  }
}

/** Phases of a conversation, for `perFrame`. */
const PHASES = ['agentTalking', 'agentJustStopped', 'noAgentAudio'] as const;
/** After the agent's audio stops playing, this long counts as `agentJustStopped`. */
const JUST_STOPPED_MS = 1500;

interface Conversation extends Scenario {
  /** Wall-time spans in which the agent's audio plays. */
  readonly turns: readonly { readonly startMs: number; readonly endMs: number }[];
}

/** Like {@link measure}, and also the cost per inbound frame in each phase of the conversation. */
function measureConversation(s: Conversation, repeats: number) {
  const events = callEvents(s.call);
  const phaseOf = (atMs: number): number => {
    for (const t of s.turns) {
      if (atMs >= t.startMs && atMs <= t.endMs) return 0;
      if (atMs > t.endMs && atMs < t.endMs + JUST_STOPPED_MS) return 1;
    }
    return 2;
  };
  const phases = Uint8Array.from(events, (ev) => phaseOf(ev.kind === 'clear' ? ev.atMs : ev.frame.atMs));
  const frames = [0, 0, 0];
  events.forEach((ev, k) => {
    if (ev.kind === 'inbound') frames[phases[k]!]!++;
  });
  const out = new Int16Array((s.sampleRateHz * FRAME_MS) / 1000);
  const ns = new Float64Array(PHASES.length);
  for (let w = 0; w < 3; w++) replayByPhase(new EchoSuppressor({ sampleRateHz: s.sampleRateHz }), events, phases, out, ns);
  const perPhase: number[][] = PHASES.map(() => []);
  const whole: number[] = [];
  let state = '';
  for (let r = 0; r < repeats; r++) {
    const sup = new EchoSuppressor({ sampleRateHz: s.sampleRateHz });
    ns.fill(0);
    replayByPhase(sup, events, phases, out, ns);
    PHASES.forEach((_, p) => perPhase[p]!.push(ns[p]! / 1000 / frames[p]!));
    whole.push((ns[0]! + ns[1]! + ns[2]!) / 1000 / s.call.inbound.length);
    state = sup.state;
  }
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  return {
    scenario: s.name,
    sampleRateHz: s.sampleRateHz,
    frames: s.call.inbound.length,
    referenceFrames: s.call.sent.length,
    finalState: state,
    usPerFrameMedian: round(median(whole)),
    usPerFrameMin: round(Math.min(...whole)),
    perFrame: Object.fromEntries(
      PHASES.map((name, p) => [name, { frames: frames[p]!, usPerFrameMedian: round(median(perPhase[p]!)), usPerFrameMin: round(Math.min(...perPhase[p]!)) }]),
    ),
  };
}

/** {@link replay}, adding the time spent in each run of events of one phase to `ns[phase]`. */
function replayByPhase(sup: EchoSuppressor, events: ReturnType<typeof callEvents>, phases: Uint8Array, out: Int16Array, ns: Float64Array): void {
  let phase = phases[0]!;
  let t0 = process.hrtime.bigint();
  for (let k = 0; k < events.length; k++) {
    if (phases[k] !== phase) {
      const t = process.hrtime.bigint();
      ns[phase]! += Number(t - t0);
      t0 = t;
      phase = phases[k]!;
    }
    const ev = events[k]!;
    if (ev.kind === 'sent') sup.reference(ev.frame.samples, ev.frame.atMs);
    else if (ev.kind === 'inbound') sup.process(ev.frame.samples, ev.frame.atMs, out);
    else sup.clearReference(ev.atMs);
  }
  ns[phase]! += Number(process.hrtime.bigint() - t0);
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}

async function main(): Promise<void> {
  const arg = process.argv.indexOf('--seconds');
  const seconds = arg > 0 ? Number(process.argv[arg + 1]) : 20;
  const text =
    'Thank you for calling the Seaview Hotel. Breakfast is served from seven to ten in the lobby, the pool opens at eight, ' +
    'and parking is free for guests. Is there anything else I can help you with today?';
  const results = [];
  for (const sampleRateHz of [8000, 16000]) {
    const speech = await agentSpeech(text, sampleRateHz);
    // Loop the speech to the requested length, queued in sentence-sized bursts as TTS delivers it.
    const agent = [];
    let atMs = 1000;
    while (atMs < 1000 + seconds * 1000) {
      agent.push({ samples: speech, queuedAtMs: atMs });
      atMs += (speech.length * 1000) / sampleRateHz + 400;
    }
    const echo = simulateSpeakerphone({ sampleRateHz, agent, echo: { delayMs: 150, attenuationDb: 12, coloured: true } });
    const clean = simulateSpeakerphone({ sampleRateHz, agent });
    const quiet = simulateSpeakerphone({ sampleRateHz, agent: [], durationMs: seconds * 1000 });
    results.push(measure({ name: 'speakerphone_echo', sampleRateHz, call: echo }, 10));
    results.push(measure({ name: 'no_echo', sampleRateHz, call: clean }, 10));
    results.push(measure({ name: 'agent_silent', sampleRateHz, call: quiet }, 10));

    // Three agent turns, each followed by 8 s in which the caller talks twice and the agent is silent.
    const callerTurn = await callerSpeech('I would like a room for two nights next week, with a sea view if you have one.', sampleRateHz);
    const speechMs = (speech.length * 1000) / sampleRateHz;
    const turns: { startMs: number; endMs: number }[] = [];
    const talk: AgentAudio[] = [];
    for (let i = 0, at = 1000; i < 3; i++, at += speechMs + 8000) {
      talk.push({ samples: speech, queuedAtMs: at });
      turns.push({ startMs: at, endMs: at + speechMs });
    }
    // The caller's track, from the end of the first agent turn: speech 0.6 s and 4.5 s into each pause.
    const callerStartMs = turns[0]!.endMs;
    const track = new Int16Array(Math.round(((turns.at(-1)!.endMs + 8000 - callerStartMs) * sampleRateHz) / 1000));
    for (const t of turns) {
      for (const afterMs of [600, 4000]) track.set(callerTurn.subarray(0, Math.round((3.5 * sampleRateHz))), Math.round(((t.endMs + afterMs - callerStartMs) * sampleRateHz) / 1000));
    }
    const conversation = (echoed: boolean): SpeakerphoneCall =>
      simulateSpeakerphone({
        sampleRateHz,
        agent: talk,
        ...(echoed ? { echo: { delayMs: 150, attenuationDb: 12, coloured: true } } : {}),
        caller: { samples: track, startMs: callerStartMs },
      });
    results.push(measureConversation({ name: 'conversation_echo', sampleRateHz, call: conversation(true), turns }, 10));
    results.push(measureConversation({ name: 'conversation_no_echo', sampleRateHz, call: conversation(false), turns }, 10));
  }
  const worst = Math.max(...results.map((r) => r.usPerFrameMedian));
  const budgetUs = (FRAME_MS * 1000) / CALLS_PER_CORE_TARGET;
  console.log(
    JSON.stringify(
      {
        benchmark: 'echo-suppressor',
        node: process.version,
        frameMs: FRAME_MS,
        results,
        worstUsPerFrame: worst,
        shareOfPerCallBudget: round(worst / budgetUs),
        perCallBudgetUs: budgetUs,
      },
      null,
      2,
    ),
  );
}

await main();
