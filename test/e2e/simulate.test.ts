import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type WebSocket, WebSocketServer } from 'ws';
import { mulawDecode, mulawEncode } from '../../src/audio/mulaw.js';
import { rmsDbfs } from '../../src/audio/pcm16.js';
import { parseScenario } from '../../src/cli/scenario.js';
import { runScenario, type ScenarioReport } from '../../src/cli/simulate.js';
import { DEFAULT_NOISE_DBFS, placeSimulatedCall } from '../../src/cli/simulated-caller.js';
import type { ParleyServer } from '../../src/server/server.js';
import { ADMIN_KEY, E2E_TIMEOUT_MS, HOTEL_NUMBER, hotelTenant, testServer } from '../support/server.js';

// ---------------------------------------------------------------------------------------------
// A scripted stand-in for the agent side, on loopback: it answers the voice webhook, accepts the
// media stream and plays tones and clears when its script says, so what the simulated caller
// reports can be checked against what really happened.

const TONE_DBFS = -10;

/** `ms` of a 440 Hz tone at `dbfs` (RMS), as 20 ms frames. */
function tone(ms: number, dbfs = TONE_DBFS): Int16Array[] {
  const amplitude = Math.SQRT2 * 32768 * 10 ** (dbfs / 20);
  const frames: Int16Array[] = [];
  for (let f = 0; f < ms / 20; f++) {
    const frame = new Int16Array(160);
    for (let i = 0; i < 160; i++) frame[i] = Math.round(amplitude * Math.sin((2 * Math.PI * 440 * (f * 160 + i)) / 8000));
    frames.push(frame);
  }
  return frames;
}

interface AgentStream {
  /** Sends audio at once; the caller plays it at real time. */
  play(ms: number): void;
  clear(): void;
}

interface AgentScript {
  onStart?(s: AgentStream): void;
  /** The caller's audio became voiced (louder than -45 dBFS) after at least 300 ms of quiet. */
  onCallerSpeech?(s: AgentStream): void;
  /** The caller has been quiet for `ms` after speaking. */
  onCallerQuiet?(s: AgentStream, ms: number): void;
  /** The caller pressed a key. */
  onDtmf?(s: AgentStream, digit: string): void;
}

interface FakeAgent {
  readonly url: string;
  /** RMS level of every frame the caller sent, in order. */
  readonly inboundDbfs: number[];
  close(): Promise<void>;
}

async function fakeAgent(script: AgentScript): Promise<FakeAgent> {
  const inboundDbfs: number[] = [];
  const http: Server = createServer((req, res) => {
    const host = req.headers.host ?? '';
    res.writeHead(200, { 'content-type': 'text/xml' }).end(`<Response><Connect><Stream url="ws://${host}/stream"/></Connect></Response>`);
  });
  const wss = new WebSocketServer({ server: http, path: '/stream' });
  wss.on('connection', (ws: WebSocket) => {
    let streamSid = '';
    /** Whether the caller is speaking (voiced audio, or less than 300 ms since). */
    let speaking = false;
    /** Quiet since the caller's last voiced frame, once it has spoken at all. */
    let quietMs: number | undefined;
    const stream: AgentStream = {
      play(ms) {
        for (const frame of tone(ms)) ws.send(JSON.stringify({ event: 'media', streamSid, media: { payload: Buffer.from(mulawEncode(frame)).toString('base64') } }));
      },
      clear() {
        ws.send(JSON.stringify({ event: 'clear', streamSid }));
      },
    };
    ws.on('message', (data) => {
      const msg = JSON.parse(data.toString()) as { event: string; streamSid?: string; media?: { payload: string }; dtmf?: { digit: string } };
      if (msg.event === 'start') {
        streamSid = msg.streamSid ?? '';
        script.onStart?.(stream);
      } else if (msg.event === 'dtmf' && msg.dtmf) {
        script.onDtmf?.(stream, msg.dtmf.digit);
      } else if (msg.event === 'media' && msg.media) {
        const level = rmsDbfs(mulawDecode(Buffer.from(msg.media.payload, 'base64')));
        inboundDbfs.push(level);
        if (level > -45) {
          if (!speaking) script.onCallerSpeech?.(stream);
          speaking = true;
          quietMs = 0;
        } else if (quietMs !== undefined) {
          quietMs += 20;
          if (quietMs >= 300) speaking = false;
          script.onCallerQuiet?.(stream, quietMs);
        }
      }
    });
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  const address = http.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    inboundDbfs,
    close: async () => {
      for (const c of wss.clients) c.terminate();
      wss.close();
      await new Promise((r) => http.close(r));
    },
  };
}

function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

describe('the simulated caller (against a scripted agent)', () => {
  test('a speakerphone echo sends the agent audio back attenuated by attenuationDb; without echo only line noise goes back', { timeout: E2E_TIMEOUT_MS }, async () => {
    const agent = await fakeAgent({ onStart: (s) => s.play(1000) });
    try {
      await placeSimulatedCall({ baseUrl: agent.url, to: '+15550100000', steps: [{ pauseMs: 200 }], echo: { delayMs: 100, attenuationDb: 20 } });
      const echoPeak = Math.max(...agent.inboundDbfs);
      assert.ok(Math.abs(echoPeak - (TONE_DBFS - 20)) < 2, `echo at ${echoPeak.toFixed(1)} dBFS, tone ${TONE_DBFS} dBFS, attenuation 20 dB`);
      assert.ok(Math.abs(median(agent.inboundDbfs) - DEFAULT_NOISE_DBFS) < 3, `between echoes the line is at the default noise level`);
    } finally {
      await agent.close();
    }
    const quiet = await fakeAgent({ onStart: (s) => s.play(1000) });
    try {
      await placeSimulatedCall({ baseUrl: quiet.url, to: '+15550100000', steps: [{ pauseMs: 200 }] });
      assert.ok(Math.max(...quiet.inboundDbfs) < -55, `no echo without the option: peak ${Math.max(...quiet.inboundDbfs).toFixed(1)} dBFS`);
    } finally {
      await quiet.close();
    }
  });

  test('noiseDb sets the level of the line noise the caller sends', { timeout: E2E_TIMEOUT_MS }, async () => {
    const agent = await fakeAgent({ onStart: (s) => s.play(200) });
    try {
      await placeSimulatedCall({ baseUrl: agent.url, to: '+15550100000', steps: [{ pauseMs: 200 }], noiseDb: -40 });
      const level = median(agent.inboundDbfs);
      assert.ok(Math.abs(level - -40) < 1.5, `line noise at ${level.toFixed(1)} dBFS`);
    } finally {
      await agent.close();
    }
  });

  test('a clear while the caller talks is its barge-in working; a clear while it is silent is a false interruption', { timeout: E2E_TIMEOUT_MS }, async () => {
    let cleared = false;
    let replied = false;
    const agent = await fakeAgent({
      onStart: (s) => s.play(4000),
      // Barge-in: the agent stops as soon as the caller talks over it.
      onCallerSpeech: (s) => {
        if (!cleared) s.clear();
        cleared = true;
      },
      // Answers, then stops mid-answer for no reason while the caller listens.
      onCallerQuiet: (s, ms) => {
        if (ms !== 600 || replied) return;
        replied = true;
        s.play(3000);
        setTimeout(() => s.clear(), 1000);
      },
    });
    try {
      const result = await placeSimulatedCall({ baseUrl: agent.url, to: '+15550100000', steps: [{ say: 'hello there', bargeInAfterMs: 500 }] });
      const u = result.utterances[0];
      assert.ok(u);
      assert.equal(u.bargeIn, true);
      assert.equal(u.agentStopped, true, 'the clear during the caller speech is the barge-in taking effect');
      assert.equal(u.cutOff, false, 'the agent was already talking when the caller barged in: not a cut-off');
      assert.ok(u.heardLatencyMs !== undefined && u.heardLatencyMs > 0, 'the answer after the barge-in was heard');
      assert.deepEqual(result.clears.map((c) => c.duringCallerSpeech), [true, false]);
      assert.equal(result.falseInterruptions, 1);
    } finally {
      await agent.close();
    }
  });

  test('a backchannel over the agent expects no answer; an agent that stops for it fails maxBackchannelInterruptions', { timeout: E2E_TIMEOUT_MS }, async () => {
    const scenario = parseScenario('inline.yaml', `
to: "+15550100000"
steps:
  - { say: uh huh, backchannelAfterMs: 500 }
expect: { maxUnanswered: 0, maxFalseInterruptions: 0, maxBackchannelInterruptions: 0 }
`);
    const patient = await fakeAgent({ onStart: (s) => s.play(4000) });
    try {
      const report = await runScenario(scenario, { baseUrl: patient.url });
      assert.equal(report.utterances.backchannels, 1);
      assert.equal(report.utterances.backchannelsStoppedAgent, 0);
      assert.equal(report.utterances.unanswered, 0, 'a backchannel is not an unanswered question');
      assert.equal(report.utterances.bargeIns, 0);
      assert.equal(report.passed, true, JSON.stringify(report.expectations));
    } finally {
      await patient.close();
    }
    const jumpy = await fakeAgent({ onStart: (s) => s.play(4000), onCallerSpeech: (s) => s.clear() });
    try {
      const report = await runScenario(scenario, { baseUrl: jumpy.url });
      assert.equal(report.utterances.backchannelsStoppedAgent, 1);
      assert.equal(report.falseInterruptions, 0, 'the caller did speak');
      assert.deepEqual(report.expectations.filter((e) => !e.ok).map((e) => e.name), ['maxBackchannelInterruptions']);
      assert.equal(report.passed, false);
      assert.equal(report.callResults[0]?.utterances[0]?.resumedAfterMs, undefined, 'it never went on');
      assert.equal(report.latency.backchannelResumeMs.n, 0);
    } finally {
      await jumpy.close();
    }
  });

  test('an answer that starts right after the last key is an answer to the keys', { timeout: E2E_TIMEOUT_MS }, async () => {
    const scenario = parseScenario('inline.yaml', `
to: "+15550100000"
steps:
  - dtmf: "0#"
expect: { maxUnanswered: 0 }
`);
    const agent = await fakeAgent({ onDtmf: (s, digit) => digit === '#' && s.play(1500) });
    try {
      const report = await runScenario(scenario, { baseUrl: agent.url });
      const u = report.callResults[0]?.utterances[0];
      assert.equal(u?.kind, 'dtmf');
      assert.ok(u?.heardLatencyMs !== undefined && u.heardLatencyMs < 400, `answered ${u?.heardLatencyMs} ms after the last key`);
      assert.equal(report.passed, true, JSON.stringify(report.expectations));
    } finally {
      await agent.close();
    }
  });

  test('a backchannel the agent paused for reports how soon after the caller stopped it was heard again', { timeout: E2E_TIMEOUT_MS }, async () => {
    const scenario = parseScenario('inline.yaml', `
to: "+15550100000"
steps:
  - { say: okay, backchannelAfterMs: 500 }
expect: { backchannelResumeMs: { max: 600 } }
`);
    let resumed = false;
    const pausing = await fakeAgent({
      onStart: (s) => s.play(4000),
      onCallerSpeech: (s) => s.clear(),
      onCallerQuiet: (s, ms) => {
        if (ms < 300 || resumed) return;
        resumed = true;
        s.play(2000);
      },
    });
    try {
      const report = await runScenario(scenario, { baseUrl: pausing.url });
      assert.equal(report.utterances.backchannelsStoppedAgent, 1);
      const after = report.callResults[0]?.utterances[0]?.resumedAfterMs;
      // The fake counts quiet from its last frame above -45 dBFS, the caller from its last voiced sample.
      assert.ok(after !== undefined && after >= 200 && after <= 500, `heard again ${after} ms after`);
      assert.equal(report.latency.backchannelResumeMs.n, 1);
      assert.equal(report.passed, true, JSON.stringify(report.expectations));
    } finally {
      await pausing.close();
    }
  });

  test('an agent answering during a pause inside an utterance is a cut-off; answering after it finished is not', { timeout: E2E_TIMEOUT_MS }, async () => {
    const agent = await fakeAgent({
      onStart: (s) => s.play(500),
      // An impatient endpointer: 400 ms of quiet ends the turn.
      onCallerQuiet: (s, ms) => {
        if (ms === 400) s.play(600);
      },
    });
    try {
      const result = await placeSimulatedCall({
        baseUrl: agent.url,
        to: '+15550100000',
        steps: [{ say: 'hello' }, { say: ['my number is', { pauseMs: 1800 }, 'four five six'] }],
      });
      const [plain, paused] = result.utterances;
      assert.ok(plain && paused);
      assert.equal(plain.cutOff, false);
      assert.equal(plain.cutOffHeardMs, 0);
      assert.equal(paused.text, 'my number is (1800 ms) four five six');
      assert.equal(paused.cutOff, true, 'the agent spoke in the pause');
      assert.ok(paused.cutOffHeardMs > 0);
      assert.ok(paused.heardLatencyMs !== undefined, 'and answered again once the caller finished');
      assert.equal(result.cutOffs, 1);
      assert.equal(result.falseInterruptions, 0);
    } finally {
      await agent.close();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Scenarios against a real Parley server running the demo hotel tenant.

describe('parley simulate against the demo hotel', () => {
  let server: ParleyServer;
  before(async () => {
    server = await testServer([await hotelTenant()]);
  });
  after(() => server.close());

  const bargeInScenario = `
name: breakfast barge-in
to: "${HOTEL_NUMBER}"
steps:
  - say: what time is breakfast
    bargeInAfterMs: 1000
  - when does the pool open
expect:
  maxUnanswered: 0
  maxMissedBargeIns: 0
  maxFalseInterruptions: 0
  agentSays: [Breakfast is served, /pool is open/i]
  heardLatencyMs: { max: 1 }   # impossible on purpose
`;

  test('a scenario report counts answers, latencies from both ends, and a deliberate barge-in as a barge-in; a failed expectation fails the scenario', { timeout: E2E_TIMEOUT_MS }, async () => {
    const scenario = parseScenario('inline.yaml', bargeInScenario);
    const report = await runScenario(scenario, { baseUrl: server.url, adminKey: ADMIN_KEY });

    assert.equal(report.scenario, 'breakfast barge-in');
    assert.deepEqual(report.calls, { planned: 1, concurrent: 1, rounds: 1, completed: 1, failed: 0, timedOut: 0 });
    assert.equal(report.utterances.spoken, 2);
    assert.equal(report.utterances.answered, 2);
    assert.equal(report.utterances.bargeIns, 1);
    assert.equal(report.utterances.bargeInsHonoured, 1, 'the agent stopped for the barge-in');
    assert.equal(report.falseInterruptions, 0, 'a deliberate barge-in is not a false interruption');
    assert.equal(report.utterances.cutOffs, 0);
    assert.equal(report.latency.heardMs.n, 2);
    assert.ok((report.latency.heardMs.p50 ?? 0) > 0);
    assert.ok(report.latency.voiceToVoiceMs && report.latency.voiceToVoiceMs.n >= 2, 'server voice-to-voice read back');
    assert.equal(typeof report.latency.parleyOverheadMs?.p50, 'number');
    assert.equal(report.server?.bargeInEvents, 1);

    const byName = new Map(report.expectations.map((e) => [e.name, e]));
    for (const name of ['maxFailedCalls', 'maxUnanswered', 'maxMissedBargeIns', 'maxFalseInterruptions', 'agentSays "Breakfast is served"', 'agentSays "/pool is open/i"']) {
      assert.equal(byName.get(name)?.ok, true, `${name}: ${JSON.stringify(byName.get(name))}`);
    }
    assert.equal(byName.get('heardLatencyMs.max')?.ok, false);
    assert.equal(report.passed, false, 'one failed expectation fails the scenario');
  });

  test('expectations on server figures fail, naming the missing admin key, when the call records cannot be read', { timeout: E2E_TIMEOUT_MS }, async () => {
    const scenario = parseScenario('inline.yaml', `
to: "${HOTEL_NUMBER}"
steps: [what time is breakfast]
expect:
  maxUnanswered: 0
  voiceToVoiceMs: { p95: 60000 }
`);
    const report = await runScenario(scenario, { baseUrl: server.url });
    assert.equal(report.utterances.answered, 1);
    assert.equal(report.latency.voiceToVoiceMs, null);
    const v2v = report.expectations.find((e) => e.name === 'voiceToVoiceMs.p95');
    assert.equal(v2v?.ok, false);
    assert.match(v2v?.actual ?? '', /--admin-key/);
    assert.equal(report.passed, false);
  });

  test('the CLI prints a JSON report and exits non-zero when a scenario\'s expectations fail', { timeout: E2E_TIMEOUT_MS }, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'parley-simulate-test-'));
    const passing = join(dir, 'passing.yaml');
    const failing = join(dir, 'failing.yaml');
    await writeFile(passing, `to: "${HOTEL_NUMBER}"\nsteps: [what time is breakfast]\nexpect: { maxUnanswered: 0, agentSays: [Breakfast is served] }\n`);
    await writeFile(failing, `to: "${HOTEL_NUMBER}"\nsteps: [what time is breakfast]\nexpect: { agentSays: [the moon is made of cheese] }\n`);

    const run = async (files: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> => {
      const mainUrl = new URL('../../src/cli/main.ts', import.meta.url).href;
      const script = `import { main } from ${JSON.stringify(mainUrl)};
try { await main(process.argv.slice(1)); } catch (err) { console.error('parley: ' + err.message); process.exit(1); }`;
      const { PARLEY_ADMIN_KEY: _ignored, ...env } = process.env;
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', '--input-type=module', '-e', script, 'simulate', ...files, '--url', server.url, '--admin-key', ADMIN_KEY, '--json'],
        { env, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      const code = await new Promise<number | null>((r) => child.on('close', r));
      return { code, stdout, stderr };
    };

    const ok = await run([passing]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal((JSON.parse(ok.stdout) as { passed: boolean }).passed, true);

    const bad = await run([passing, failing]);
    assert.equal(bad.code, 1, bad.stderr);
    const out = JSON.parse(bad.stdout) as { passed: boolean; scenarios: ScenarioReport[] };
    assert.equal(out.passed, false);
    assert.deepEqual(out.scenarios.map((s) => [s.scenario, s.passed]), [['passing', true], ['failing', false]]);
    assert.match(bad.stderr, /call 1\/1 CA[0-9a-f]+: done/, 'progress goes to stderr, keeping stdout one JSON document');
  });

  test('the CLI rejects an invalid scenario before placing any call, naming the file and the field', { timeout: E2E_TIMEOUT_MS }, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'parley-simulate-test-'));
    const bad = join(dir, 'bad.yaml');
    await writeFile(bad, `to: "${HOTEL_NUMBER}"\nsteps:\n  - say: ["one", { pauseMs: -5 }, "two"]\n`);
    const mainUrl = new URL('../../src/cli/main.ts', import.meta.url).href;
    const script = `import { main } from ${JSON.stringify(mainUrl)};
try { await main(process.argv.slice(1)); } catch (err) { console.error('parley: ' + err.message); process.exit(1); }`;
    const before = await (await fetch(`${server.url}/v1/calls`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } })).json();
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, 'simulate', bad, '--url', server.url], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const code = await new Promise<number | null>((r) => child.on('close', r));
    assert.equal(code, 1);
    assert.ok(stderr.includes(bad), stderr);
    assert.match(stderr, /steps\.0\.say\.1\.pauseMs/);
    const afterList = await (await fetch(`${server.url}/v1/calls`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } })).json();
    assert.deepEqual(afterList, before, 'no call was placed');
  });
});
