import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { placeSimulatedCall } from '../../src/cli/simulated-caller.js';
import { wordErrorRate } from '../../src/providers/stt/wer.js';
import type { ParleyServer } from '../../src/server/server.js';
import { sharedDataPath } from '../support/shared-data.js';
import { E2E_TIMEOUT_MS, getCall, HOTEL_NUMBER, hotelTenant, hotelDocument, testServer } from '../support/server.js';

let server: ParleyServer;
before(async () => {
  server = await testServer([await hotelTenant()]);
});
after(() => server.close());

interface Turn {
  role: 'user' | 'agent';
  text: string;
  interrupted: boolean;
  latency: Record<string, number | null>;
}

test('a caller books a room by voice and the agent hangs up after goodbye; every turn is stored with latencies', { timeout: E2E_TIMEOUT_MS }, async () => {
  const result = await placeSimulatedCall({
    baseUrl: server.url,
    to: HOTEL_NUMBER,
    steps: [{ say: 'I would like to make a reservation' }, { say: 'three nights' }, { say: 'starting on friday' }, { say: 'no that is all, goodbye' }],
  });
  assert.equal(result.closedBy, 'server', 'the agent ended the call');
  assert.ok(result.marksEchoed >= 5, 'a mark followed each sentence');

  const call = await getCall(server, result.callSid);
  assert.equal(call.status, 'completed');
  assert.equal(call.endReason, 'agent_hangup');
  assert.equal(call.carrier.callSid, result.callSid);
  const turns = call.turns as Turn[];
  const user = turns.filter((t) => t.role === 'user').map((t) => t.text);
  const agent = turns.filter((t) => t.role === 'agent');
  assert.equal(user.length, 4, `user turns: ${JSON.stringify(user)}`);
  assert.match(user[0] ?? '', /reservation/);
  assert.match(agent[0]?.text ?? '', /^Thank you for calling the Seaview Hotel/);
  assert.equal(agent[0]?.interrupted, false);
  const all = agent.map((t) => t.text).join(' | ');
  assert.match(all, /How many nights/);
  assert.match(all, /what day would you like to arrive/);
  assert.match(all, /booked for three nights starting Friday/);
  assert.match(agent.at(-1)?.text ?? '', /Goodbye/);

  for (const t of agent.slice(1)) {
    const l = t.latency;
    assert.ok((l.voiceToVoiceMs ?? 0) > 0, `voice-to-voice measured: ${JSON.stringify(l)}`);
    // 600 ms by default; 350 ms after clearly complete words ("goodbye"), never less.
    assert.ok((l.endpointingMs ?? 0) >= 340, `endpointing waited for the silence window: ${l.endpointingMs}`);
    for (const k of ['sttFinalMs', 'llmFirstTokenMs', 'ttsFirstAudioMs', 'parleyOverheadMs']) assert.equal(typeof l[k], 'number', k);
  }
  for (const u of result.utterances) assert.ok(u.heardLatencyMs !== undefined && u.heardLatencyMs > 0, 'the caller heard each answer');
  const events = (call.events as { type: string; data: Record<string, unknown> }[]).map((e) => e.type);
  assert.ok(events.includes('tool.called'));
  assert.ok(events.includes('call.ended'));
});

test('barge-in: the caller talks over the greeting; Parley clears playback and keeps only what was heard', { timeout: E2E_TIMEOUT_MS }, async () => {
  const result = await placeSimulatedCall({
    baseUrl: server.url,
    to: HOTEL_NUMBER,
    steps: [{ say: 'what time is breakfast', bargeInAfterMs: 1000 }],
  });
  assert.ok(result.clearsReceived >= 1, 'clear sent to the carrier');
  const call = await getCall(server, result.callSid);
  const turns = call.turns as Turn[];
  const greeting = turns[0] as Turn;
  const full = (await hotelDocument()).agent.greeting;
  assert.equal(greeting.role, 'agent');
  assert.equal(greeting.interrupted, true);
  assert.ok(greeting.text.length > 0 && greeting.text.length < full.length * 0.7, `heard only part: "${greeting.text}"`);
  assert.ok(full.startsWith(greeting.text), 'heard text is the start of what was said');
  const barge = (call.events as { type: string; data: { heardMs: number; plannedText: string } }[]).find((e) => e.type === 'barge_in');
  assert.ok(barge, 'barge_in event stored');
  // Speech began 1 s into the greeting; barge-in fires after ~150 ms of it, plus VAD and pacing slack.
  assert.ok(barge.data.heardMs > 1000 && barge.data.heardMs < 2500, `heard ${barge.data.heardMs} ms`);
  assert.equal(barge.data.plannedText, full);
  const answer = turns.filter((t) => t.role === 'agent')[1];
  assert.match(answer?.text ?? '', /Breakfast is served/);
});

test('a real human recording is transcribed and answered', { timeout: E2E_TIMEOUT_MS }, async () => {
  const wav = sharedDataPath('speech', 'goforward.wav');
  const result = await placeSimulatedCall({ baseUrl: server.url, to: HOTEL_NUMBER, steps: [{ wav }] });
  const call = await getCall(server, result.callSid);
  const user = (call.turns as Turn[]).find((t) => t.role === 'user');
  assert.ok(user, 'user turn stored');
  const wer = wordErrorRate('go forward ten meters', user.text);
  assert.ok(wer <= 0.5, `"${user.text}" WER ${wer}`);
  const answer = (call.turns as Turn[]).filter((t) => t.role === 'agent')[1];
  assert.match(answer?.text ?? '', /Sorry/, 'not a hotel request: the agent asks again');
});
