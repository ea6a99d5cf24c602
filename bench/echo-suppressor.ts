/**
 * Cost of echo suppression per 20 ms of call audio (one inbound frame processed plus the outbound reference
 * frame recorded alongside it), over whole simulated calls from a fresh suppressor: a speakerphone call
 * (agent audio from espeak, echoed back 150 ms later, 12 dB down, coloured, with line noise), an
 * echo-free call with the agent talking, and a call where the agent is silent. At 8 and 16 kHz.
 * Reports the median and best of 10 runs per scenario, and the worst median as a share of the per-call CPU
 * budget at 500 calls per core (40 µs per 20 ms frame for everything a call does).
 * Prints JSON only. Usage: node dist/bench/echo-suppressor.js [--seconds 20]
 */
import { agentSpeech, callEvents, simulateSpeakerphone, type SpeakerphoneCall } from '../src/audio/echo-test-support.js';
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
