import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { TurnTaking } from '../pipeline/turn-taking.js';
import { EchoSuppressor } from './echo-suppressor.js';
import { agentSpeech, callerSpeech, callEvents, gainDb, simulateSpeakerphone, type AgentAudio, type SpeakerphoneCall, type SpeakerphoneOptions } from './echo-test-support.js';
import { EnergyVad } from './energy-vad.js';

const FRAME_MS = 20;
const DELAYS_MS = [60, 150, 300] as const;

interface Replay {
  /** Wall times of barge-in events. */
  readonly bargeIns: number[];
  /** Energy in / out over inbound frames arriving in the measured span. */
  readonly inEnergy: number;
  readonly outEnergy: number;
}

/**
 * Plays a call through the inbound path the way the voice session does: (suppressor →) EnergyVad →
 * TurnTaking with the agent speaking throughout, so every sound the VAD accepts can barge in.
 */
function replay(call: SpeakerphoneCall, suppressor?: EchoSuppressor, o: { clear?: boolean; measureFromMs?: number; measureToMs?: number } = {}): Replay {
  const vad = new EnergyVad({ sampleRateHz: call.sampleRateHz });
  const turns = new TurnTaking();
  const bargeIns: number[] = [];
  let inEnergy = 0;
  let outEnergy = 0;
  for (const ev of callEvents(call)) {
    if (ev.kind === 'sent') {
      suppressor?.reference(ev.frame.samples, ev.frame.atMs);
      continue;
    }
    if (ev.kind === 'clear') {
      if (o.clear !== false) suppressor?.clearReference(ev.atMs);
      continue;
    }
    const { samples: raw, atMs } = ev.frame;
    const cleaned = suppressor ? suppressor.process(raw, atMs).samples : raw;
    if (atMs > (o.measureFromMs ?? -Infinity) && atMs <= (o.measureToMs ?? Infinity)) {
      for (let i = 0; i < raw.length; i++) {
        inEnergy += raw[i]! * raw[i]!;
        outEnergy += cleaned[i]! * cleaned[i]!;
      }
    }
    for (const e of turns.push(vad.process(cleaned), FRAME_MS, true)) if (e.kind === 'barge_in') bargeIns.push(atMs);
  }
  return { bargeIns, inEnergy, outEnergy };
}

const lossDb = (r: Replay): number => 10 * Math.log10(r.inEnergy / r.outEnergy);

describe('EchoSuppressor on a speakerphone call', () => {
  const speech: Record<number, { agent: AgentAudio[]; agentLong: Int16Array; callers: [string, Int16Array][] }> = {};

  before(async () => {
    for (const rate of [8000, 16000]) {
      const first = await agentSpeech('Welcome to the Grand Hotel. How can I help you today?', rate);
      const second = await agentSpeech('I can book rooms, tell you about breakfast and the pool, or put you through to the front desk.', rate);
      const agentLong = await agentSpeech(
        'Thank you for calling the Grand Hotel. Breakfast is served from seven to ten in the lobby, the pool opens at eight, and parking is free for guests.',
        rate,
      );
      const callers: [string, Int16Array][] = [];
      for (const text of ['Sorry to interrupt, I need to cancel my booking for tonight please.', 'Can I speak to a person?', 'Wait, hold on a second.']) {
        callers.push([text, await callerSpeech(text, rate)]);
      }
      // TTS delivers sentence by sentence; the second arrives after the first has played out, so the
      // pacer underruns and starts a new run, as it does on real calls.
      speech[rate] = {
        agent: [
          { samples: first, queuedAtMs: 1000 },
          { samples: second, queuedAtMs: 1000 + (first.length * 1000) / rate + 300 },
        ],
        agentLong,
        callers,
      };
    }
  });

  const call = (rate: number, o: Omit<SpeakerphoneOptions, 'sampleRateHz' | 'agent'> & { agent?: AgentAudio[] }): SpeakerphoneCall =>
    simulateSpeakerphone({ sampleRateHz: rate, agent: speech[rate]!.agent, ...o });

  it('the echo alone makes the agent interrupt itself, and with suppression it never does (60–300 ms, 6–20 dB)', () => {
    for (const delayMs of DELAYS_MS) {
      for (const attenuationDb of [6, 12, 20]) {
        for (const coloured of [false, true]) {
          const label = `${delayMs} ms, ${attenuationDb} dB${coloured ? ', coloured' : ''}`;
          const c = call(8000, { echo: { delayMs, attenuationDb, coloured }, seed: delayMs + attenuationDb });
          assert.ok(replay(c).bargeIns.length > 0, `raw echo should barge in (${label})`);
          const suppressor = new EchoSuppressor({ sampleRateHz: 8000 });
          assert.deepEqual(replay(c, suppressor).bargeIns, [], `suppressed echo barged in (${label})`);
          const stats = suppressor.stats();
          assert.equal(stats.state, 'locked', label);
          // The room reflections of the coloured path pull the envelope a little later.
          assert.ok(Math.abs(stats.delayMs! - delayMs) <= 15, `delay ${stats.delayMs} ms (${label})`);
          assert.ok(Math.abs(stats.echoReturnLossDb! - attenuationDb) <= 5, `echo return loss ${stats.echoReturnLossDb} dB (${label})`);
        }
      }
    }
  });

  it('a caller talking over the echo still barges in, typically within 200 ms of speaking (12 and 20 dB echo)', () => {
    const latencies: number[] = [];
    const baselines: number[] = [];
    for (const [text, caller] of speech[8000]!.callers) {
      // The caller starts at different points of the agent's speech: over loud and over quiet echo.
      for (const startMs of [3100, 3700, 4300]) {
        const clean = call(8000, { caller: { samples: caller, startMs } });
        baselines.push(replay(clean).bargeIns.find((t) => t >= clean.callerOnsetMs!)! - clean.callerOnsetMs!);
        for (const delayMs of DELAYS_MS) {
          for (const attenuationDb of [12, 20]) {
            const c = call(8000, { echo: { delayMs, attenuationDb, coloured: true }, caller: { samples: caller, startMs } });
            const onset = c.callerOnsetMs!;
            const r = replay(c, new EchoSuppressor({ sampleRateHz: 8000 }));
            const label = `"${text}" at ${startMs} ms over ${delayMs} ms / ${attenuationDb} dB echo`;
            assert.deepEqual(
              r.bargeIns.filter((t) => t < onset),
              [],
              `barge-in before the caller spoke: ${label}`,
            );
            const first = r.bargeIns.find((t) => t >= onset);
            assert.ok(first !== undefined, `no barge-in: ${label}`);
            // A soft onset no louder than the echo cannot be told from it; the next louder syllable can.
            assert.ok(first - onset <= 450, `barge-in ${Math.round(first - onset)} ms after onset: ${label}`);
            latencies.push(first - onset);
          }
        }
      }
    }
    const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const within200 = latencies.filter((x) => x <= 200).length / latencies.length;
    assert.ok(
      median(latencies) <= 200 && within200 >= 0.75,
      `median ${Math.round(median(latencies))} ms, ${Math.round(within200 * 100)}% within 200 ms (echo-free median ${Math.round(median(baselines))} ms)`,
    );
  });

  it('a caller talking over echo only 6 dB down still barges in, later', () => {
    const [, caller] = speech[8000]!.callers[0]!;
    for (const delayMs of DELAYS_MS) {
      const c = call(8000, { echo: { delayMs, attenuationDb: 6, coloured: true }, caller: { samples: caller, startMs: 4000 } });
      const r = replay(c, new EchoSuppressor({ sampleRateHz: 8000 }));
      const first = r.bargeIns.find((t) => t >= c.callerOnsetMs!);
      assert.ok(first !== undefined && first - c.callerOnsetMs! <= 500, `${delayMs} ms: barge-ins ${r.bargeIns.map(Math.round).join(', ')}`);
      assert.ok(r.bargeIns.every((t) => t >= c.callerOnsetMs!));
    }
  });

  it('without echo, caller speech over the agent passes unchanged and barges in as early as without suppression', () => {
    const [, caller] = speech[8000]!.callers[1]!;
    // The agent has been talking for over 3 s when the caller starts: the suppressor has concluded there is no echo.
    const c = call(8000, { agent: [{ samples: speech[8000]!.agentLong, queuedAtMs: 1000 }], caller: { samples: caller, startMs: 4800 } });
    const suppressor = new EchoSuppressor({ sampleRateHz: 8000 });
    const r = replay(c, suppressor, { measureFromMs: c.callerOnsetMs! });
    assert.equal(suppressor.state, 'no_echo');
    assert.ok(Math.abs(lossDb(r)) < 1, `caller speech changed by ${lossDb(r).toFixed(2)} dB`);
    assert.deepEqual(r.bargeIns, replay(c).bargeIns);
  });

  it('on an echo-free line, the caller is held back only in the first half second of the first agent turn', () => {
    const agent = [{ samples: speech[8000]!.agentLong, queuedAtMs: 1000 }];
    for (const [text, caller] of speech[8000]!.callers) {
      for (const startMs of [1500, 2000, 2500, 3000]) {
        const c = call(8000, { agent, caller: { samples: caller, startMs } });
        const onset = c.callerOnsetMs!;
        const without = replay(c).bargeIns.find((t) => t >= onset)!;
        const withSuppressor = replay(c, new EchoSuppressor({ sampleRateHz: 8000 })).bargeIns.find((t) => t >= onset);
        assert.ok(
          withSuppressor !== undefined && withSuppressor - without <= 60,
          `"${text}" at ${startMs} ms: barge-in ${Math.round(without - onset)} ms after onset without suppression, ${withSuppressor === undefined ? 'never' : Math.round(withSuppressor - onset)} with`,
        );
      }
    }
  });

  it('echoLikely marks the echo frames the VAD would have taken for speech, and never a caller alone', () => {
    for (const attenuationDb of [6, 12, 20]) {
      const c = call(8000, { agent: [{ samples: speech[8000]!.agentLong, queuedAtMs: 1000 }], echo: { delayMs: 150, attenuationDb, coloured: true } });
      const suppressor = new EchoSuppressor({ sampleRateHz: 8000 });
      const vad = new EnergyVad({ sampleRateHz: 8000 });
      let voiced = 0;
      let flagged = 0;
      for (const ev of callEvents(c)) {
        if (ev.kind === 'sent') suppressor.reference(ev.frame.samples, ev.frame.atMs);
        if (ev.kind !== 'inbound') continue;
        const speechLike = vad.process(ev.frame.samples) >= 0.5;
        const { echoLikely } = suppressor.process(ev.frame.samples, ev.frame.atMs);
        if (speechLike && suppressor.state === 'locked') {
          voiced++;
          if (echoLikely) flagged++;
        }
      }
      assert.ok(voiced > 50 && flagged / voiced >= 0.95, `${attenuationDb} dB: ${flagged} of ${voiced} echo frames flagged`);
    }
    const [, caller] = speech[8000]!.callers[0]!;
    const alone = call(8000, { agent: [], caller: { samples: caller, startMs: 500 } });
    const suppressor = new EchoSuppressor({ sampleRateHz: 8000 });
    assert.ok(alone.inbound.every((f) => !suppressor.process(f.samples, f.atMs).echoLikely));
  });

  it('when the agent is silent, inbound audio comes out sample for sample', () => {
    const [, caller] = speech[8000]!.callers[0]!;
    const c = call(8000, { agent: [], caller: { samples: caller, startMs: 500 } });
    const suppressor = new EchoSuppressor({ sampleRateHz: 8000 });
    for (const f of c.inbound) assert.deepEqual(suppressor.process(f.samples, f.atMs).samples, f.samples);
  });

  it('after a clear, the echo of audio that was sent but never played is not expected', () => {
    // A quiet caller keeps talking through the barge-in; the last 160 ms sent before the clear never play.
    const [, caller] = speech[8000]!.callers[0]!;
    const long = speech[8000]!.agentLong;
    // Clear where the agent was about to say something loud, so the difference is measurable.
    let clearAtMs = 0;
    for (let i = 3 * 8000; clearAtMs === 0; i += 160) {
      let sum = 0;
      for (let j = i; j < i + 1280; j++) sum += long[j]! * long[j]!;
      if (10 * Math.log10(sum / 1280 / 32768 ** 2) > -22) clearAtMs = 1000 + i / 8;
    }
    for (const delayMs of [60, 150, 300]) {
      const c = call(8000, {
        agent: [{ samples: long, queuedAtMs: 1000 }],
        echo: { delayMs, attenuationDb: 6, coloured: true },
        caller: { samples: gainDb(caller, -10), startMs: clearAtMs - 500 },
        clearAtMs,
      });
      // Where that audio's echo would have arrived, after the real echo's tail.
      const span = { measureFromMs: clearAtMs + delayMs + 60, measureToMs: clearAtMs + delayMs + 180 };
      const cleared = lossDb(replay(c, new EchoSuppressor({ sampleRateHz: 8000 }), { ...span, clear: true }));
      const notCleared = lossDb(replay(c, new EchoSuppressor({ sampleRateHz: 8000 }), { ...span, clear: false }));
      assert.ok(cleared < 1, `${delayMs} ms: caller lost ${cleared.toFixed(1)} dB after the clear`);
      assert.ok(notCleared > cleared + 2, `${delayMs} ms: without clearReference ${notCleared.toFixed(1)} dB, with ${cleared.toFixed(1)} dB`);
    }
  });

  it('finds the new delay when the echo path changes between turns', () => {
    const long = speech[8000]!.agentLong;
    const secondAtMs = 1000 + (long.length * 1000) / 8000 + 1500;
    const c = call(8000, {
      agent: [
        { samples: long, queuedAtMs: 1000 },
        { samples: long, queuedAtMs: secondAtMs },
      ],
      echo: { delayMs: 150, attenuationDb: 12, coloured: true },
      laterEcho: { fromMs: secondAtMs - 800, path: { delayMs: 280, attenuationDb: 12, coloured: true } },
    });
    const suppressor = new EchoSuppressor({ sampleRateHz: 8000 });
    const r = replay(c, suppressor);
    assert.equal(suppressor.delayMs !== undefined && Math.abs(suppressor.delayMs - 280) <= 15, true, `delay ${suppressor.delayMs}`);
    // Until the new delay is found, the moved echo can still interrupt once; never after the first second.
    assert.ok(r.bargeIns.every((t) => t < secondAtMs + 1000), `barge-ins at ${r.bargeIns.map(Math.round).join(', ')}`);
  });

  it('notices echo that starts mid-call (speakerphone switched on) and suppresses it from the next turn on', () => {
    const long = speech[8000]!.agentLong;
    const turnMs = (long.length * 1000) / 8000 + 1500;
    const turns = [1000, 1000 + turnMs, 1000 + 2 * turnMs];
    const c = call(8000, {
      agent: turns.map((queuedAtMs) => ({ samples: long, queuedAtMs })),
      laterEcho: { fromMs: turns[1]! - 500, path: { delayMs: 200, attenuationDb: 12, coloured: true } },
    });
    assert.ok(replay(c).bargeIns.some((t) => t > turns[2]!), 'the raw echo interrupts the third turn');
    const suppressor = new EchoSuppressor({ sampleRateHz: 8000 });
    const r = replay(c, suppressor);
    assert.equal(suppressor.state, 'locked');
    assert.ok(Math.abs(suppressor.delayMs! - 200) <= 15, `delay ${suppressor.delayMs}`);
    assert.deepEqual(
      r.bargeIns.filter((t) => t > turns[2]!),
      [],
    );
  });

  it('works at 16 kHz: echo suppressed, caller still barges in', () => {
    const [, caller] = speech[16000]!.callers[1]!;
    for (const delayMs of DELAYS_MS) {
      const echoOnly = call(16000, { echo: { delayMs, attenuationDb: 10, coloured: true } });
      assert.ok(replay(echoOnly).bargeIns.length > 0);
      assert.deepEqual(replay(echoOnly, new EchoSuppressor({ sampleRateHz: 16000 })).bargeIns, [], `${delayMs} ms`);
      const both = call(16000, { echo: { delayMs, attenuationDb: 12, coloured: true }, caller: { samples: caller, startMs: 4000 } });
      const r = replay(both, new EchoSuppressor({ sampleRateHz: 16000 }));
      const first = r.bargeIns.find((t) => t >= both.callerOnsetMs!);
      assert.ok(first !== undefined && first - both.callerOnsetMs! <= 220, `${delayMs} ms: barge-ins ${r.bargeIns.map(Math.round).join(', ')}`);
    }
  });
});

describe('EchoSuppressor API', () => {
  it('reuses its verdict and output buffer, and can clean a frame in place', () => {
    const s = new EchoSuppressor({ sampleRateHz: 8000 });
    const a = s.process(new Int16Array(160).fill(100), 20);
    const b = s.process(new Int16Array(160).fill(100), 40);
    assert.equal(a, b);
    const frame = new Int16Array(160).fill(300);
    const v = s.process(frame, 60, frame);
    assert.equal(v.samples, frame);
    assert.throws(() => s.process(new Int16Array(160), 80, new Int16Array(80)), RangeError);
  });

  it('rejects rates that do not divide into 5 ms blocks and negative initial echo gains', () => {
    assert.throws(() => new EchoSuppressor({ sampleRateHz: 22050 }), RangeError);
    assert.throws(() => new EchoSuppressor({ sampleRateHz: 8000, initialEchoGainDb: 3 }), RangeError);
  });
});
