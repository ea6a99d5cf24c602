import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { loadScenario, parseScenario, ScenarioError } from './scenario.js';

const TO = 'to: "+15550100000"\n';

function rejects(text: string, pattern: RegExp, file = 'scenarios/x.yaml'): void {
  assert.throws(
    () => parseScenario(file, text, {}),
    (err: unknown) => {
      assert.ok(err instanceof ScenarioError, String(err));
      assert.ok(err.message.startsWith(`${file}: `), `names the file: ${err.message}`);
      assert.match(err.message, pattern);
      return true;
    },
  );
}

test('a minimal scenario gets one call, one round, no noise or echo options, and fails on failed calls by default', () => {
  const s = parseScenario('scenarios/hello.yaml', `${TO}steps:\n  - say: hello\n`, {});
  assert.equal(s.name, 'hello', 'named after the file');
  assert.equal(s.calls, 1);
  assert.equal(s.repeat, 1);
  assert.equal(s.arrivalSpreadMs, 0);
  assert.deepEqual(s.caller, {});
  assert.deepEqual(s.expect, { maxFailedCalls: 0 });
  assert.deepEqual(s.steps, [{ say: 'hello' }]);
});

test('a bare string step is a say step; pauses mix into an utterance; keys, barge-ins and silent steps are kept', () => {
  const s = parseScenario(
    'x.yaml',
    `${TO}steps:
  - I would like a room
  - say: ["my number is", { pauseMs: 600 }, "four five six"]
  - { say: what time is breakfast, bargeInAfterMs: 800 }
  - { say: uh huh, backchannelAfterMs: 1500 }
  - dtmf: "0#"
  - pauseMs: 2000
  - { pauseMs: 1500, say: three nights }
`,
    {},
  );
  assert.deepEqual(s.steps, [
    { say: 'I would like a room' },
    { say: ['my number is', { pauseMs: 600 }, 'four five six'] },
    { say: 'what time is breakfast', bargeInAfterMs: 800 },
    { say: 'uh huh', backchannelAfterMs: 1500 },
    { dtmf: '0#' },
    { pauseMs: 2000 },
    { pauseMs: 1500, say: 'three nights' },
  ]);
});

test('wav paths are relative to the scenario file', () => {
  const s = parseScenario('some/dir/x.yaml', `${TO}steps:\n  - wav: ../audio/hello.wav\n  - wav: /abs/hi.wav\n`, {});
  assert.deepEqual(s.steps, [{ wav: resolve('some/audio/hello.wav') }, { wav: '/abs/hi.wav' }]);
});

test('caller options, load shape and expectations parse as written', () => {
  const s = parseScenario(
    'x.yaml',
    `name: echo load
${TO}from: "+15555550199"
calls: 10
repeat: 3
arrivalSpreadMs: 5000
timeoutMs: 60000
caller:
  noiseDb: -45
  echo: { delayMs: 150, attenuationDb: 12 }
  quietMs: 1500
  replyTimeoutMs: 8000
steps: [hello]
expect:
  maxUnanswered: 0
  maxCutOffs: 0
  maxFalseInterruptions: 0
  maxMissedBargeIns: 0
  maxBackchannelInterruptions: 0
  heardLatencyMs: { p50: 1500, p95: 2500 }
  voiceToVoiceMs: { p99: 3000 }
  parleyOverheadMs: { max: 50 }
  endReason: [agent_hangup, transfer]
  agentSays: [Breakfast, /booked for \\d+ nights/i]
`,
    {},
  );
  assert.equal(s.name, 'echo load');
  assert.equal(s.from, '+15555550199');
  assert.deepEqual([s.calls, s.repeat, s.arrivalSpreadMs, s.timeoutMs], [10, 3, 5000, 60000]);
  assert.deepEqual(s.caller, { noiseDb: -45, echo: { delayMs: 150, attenuationDb: 12 }, quietMs: 1500, replyTimeoutMs: 8000 });
  assert.deepEqual(s.expect.heardLatencyMs, { p50: 1500, p95: 2500 });
  assert.deepEqual(s.expect.endReason, ['agent_hangup', 'transfer']);
  assert.equal(s.expect.maxFailedCalls, 0);
  assert.deepEqual(s.expect.agentSays, ['Breakfast', '/booked for \\d+ nights/i']);
});

test('errors name the file and the field', () => {
  rejects(`${TO}steps:\n  - say: ["one", { pauseMs: -5 }, "two"]\n`, /steps\.0\.say\.1\.pauseMs/);
  rejects(`to: "5550100000"\nsteps: [hi]\n`, /^[^:]+: to: must be an E\.164 number/);
  rejects(`${TO}steps: []\n`, /steps: a scenario needs at least one step/);
  rejects(`${TO}steps:\n  - hi\n  - { say: hi, dtmf: "1" }\n`, /steps\.1: give one of say, wav or dtmf, not say and dtmf/);
  rejects(`${TO}steps:\n  - { bargeInAfterMs: 500 }\n`, /steps\.0\.bargeInAfterMs: needs something to say/);
  rejects(`${TO}steps:\n  - { say: hi, bargeInAfterMs: 500, pauseMs: 100 }\n`, /steps\.0\.pauseMs: a step spoken over the agent cannot also pause/);
  rejects(`${TO}steps:\n  - { say: hi, bargeInAfterMs: 500, backchannelAfterMs: 100 }\n`, /steps\.0\.backchannelAfterMs: a step is a barge-in or a backchannel, not both/);
  rejects(`${TO}steps:\n  - dtmf: "12x"\n`, /steps\.0\.dtmf: keys 0-9/);
  rejects(`${TO}steps:\n  - {}\n`, /steps\.0: a step needs say, wav, dtmf or pauseMs/);
  rejects(`${TO}steps: [hi]\ncaller:\n  echo: { delayMs: 5, attenuationDb: 10 }\n`, /caller\.echo\.delayMs: must be at least 20 ms/);
  rejects(`${TO}steps: [hi]\ncaller:\n  noiseDb: 10\n`, /caller\.noiseDb/);
  rejects(`${TO}steps: [hi]\ncalls: 0\n`, /calls/);
  rejects(`${TO}steps: [hi]\nexpect:\n  heardLatencyMs: {}\n`, /expect\.heardLatencyMs: give at least one of p50/);
  rejects(`${TO}steps: [hi]\nexpects:\n  maxCutOffs: 0\n`, /expects/);
  rejects(`${TO}steps: [hi]\nexpect:\n  maxCutOff: 0\n`, /expect.*maxCutOff/);
});

test('YAML syntax errors and unset environment variables name the file; ${VAR} is expanded', () => {
  rejects(`${TO}steps: [hi\n`, /not valid YAML/);
  rejects(`to: "\${HOTEL}"\nsteps: [hi]\n`, /to: environment variable HOTEL is not set/);
  const s = parseScenario('x.yaml', `to: "\${HOTEL}"\nsteps: [hi]\n`, { HOTEL: '+15550100000' });
  assert.equal(s.to, '+15550100000');
});

test('JSON scenario files are read as JSON', () => {
  const s = parseScenario('x.json', JSON.stringify({ to: '+15550100000', steps: ['hi'] }), {});
  assert.deepEqual(s.steps, [{ say: 'hi' }]);
  rejects('{ nope', /not valid JSON/, 'x.json');
});

test('loadScenario reads the file and reports a missing one by name', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'parley-scenario-'));
  const file = join(dir, 'call.yaml');
  await writeFile(file, `${TO}steps: [hi]\n`);
  assert.equal((await loadScenario(file, {})).name, 'call');
  await assert.rejects(loadScenario(join(dir, 'missing.yaml'), {}), (err: unknown) => err instanceof ScenarioError && err.message.includes('missing.yaml: cannot read scenario'));
});

test('every example in scenarios/ is a valid scenario', async () => {
  const dir = new URL('../../scenarios/', import.meta.url);
  const files = (await readdir(dir)).filter((f) => f.endsWith('.yaml'));
  assert.ok(files.length >= 5, `examples: ${files.join(', ')}`);
  for (const f of files) {
    const s = await loadScenario(new URL(f, dir).pathname, {});
    assert.equal(s.to, '+15550100000', `${f} calls the demo hotel`);
  }
});
