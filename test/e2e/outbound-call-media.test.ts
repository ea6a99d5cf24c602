import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { parseWavHeader } from '../../src/audio/wav.js';
import { placeSimulatedCall } from '../../src/cli/simulated-caller.js';
import type { ParleyServer } from '../../src/server/server.js';
import { type FakeTwilioApi, startFakeTwilioApi } from '../fakes/twilio-api-server.js';
import { ADMIN_KEY, E2E_TIMEOUT_MS, getCall, HOTEL_NUMBER, hotelTenant, testServer } from '../support/server.js';

/**
 * An outbound call end to end on the real server: POST /v1/calls dials through (a loopback fake of)
 * Twilio's REST API; the fake rings, answers by fetching the call's Url like Twilio, and the callee
 * (the simulated caller) talks with the agent over the real media stream; status callbacks close it.
 */
const ACCOUNT_SID = `AC${'0'.repeat(31)}7`;
const AUTH_TOKEN = 'hotel-twilio-token';
const PUBLIC_URL = 'https://parley.example.com';
const CALLEE = '+15557654321';

let twilio: FakeTwilioApi;
let server: ParleyServer;

before(async () => {
  let serverUrl = '';
  twilio = await startFakeTwilioApi({ accounts: { [ACCOUNT_SID]: AUTH_TOKEN }, reach: (u) => u.replace(PUBLIC_URL, serverUrl) });
  const tenant = await hotelTenant((t) => ({ ...t, twilio: { accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN }, agent: { ...t.agent, recording: true } }));
  server = await testServer([tenant], { publicUrl: PUBLIC_URL, twilioApiBaseUrl: twilio.url });
  serverUrl = server.url;
});
after(async () => {
  await server.close();
  await twilio.close();
});

test('POST /v1/calls dials out; when the callee answers, the agent greets them and the call completes with its record', { timeout: E2E_TIMEOUT_MS }, async () => {
  const res = await fetch(`${server.url}/v1/calls?tenantId=seaview-hotel`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ to: CALLEE, variables: { 'guest.name': 'Ada' }, machineDetection: true }),
  });
  assert.equal(res.status, 201, await res.clone().text());
  const placed = (await res.json()) as { id: string; status: string; from: string; carrier: { callSid: string } };
  assert.equal(placed.status, 'queued');
  assert.equal(placed.from, HOTEL_NUMBER);
  const sid = placed.carrier.callSid;

  await twilio.sendStatus(sid, 'ringing');
  const answered = await twilio.answer(sid, { AnsweredBy: 'human' });
  assert.equal(answered.status, 200);
  const result = await placeSimulatedCall({ baseUrl: server.url, to: CALLEE, answered: { twiml: answered.body, callSid: sid }, steps: [{ say: 'what time is breakfast' }] });
  await twilio.sendStatus(sid, 'completed');

  const call = await getCall(server, placed.id);
  assert.equal(call.id, placed.id, 'the queued record was taken over, not duplicated');
  assert.equal(call.direction, 'outbound');
  assert.equal(call.status, 'completed');
  assert.equal(call.carrier.callSid, result.callSid);
  const agent = (call.turns as { role: string; text: string }[]).filter((t) => t.role === 'agent');
  assert.match(agent[0]?.text ?? '', /Seaview Hotel/);
  assert.match(agent[1]?.text ?? '', /Breakfast is served/);
  const statuses = (call.events as { type: string; data: Record<string, unknown> }[]).filter((e) => e.type === 'carrier.status').map((e) => e.data.callStatus ?? e.data.status);
  assert.ok(statuses.includes('ringing') && statuses.includes('completed'), `carrier statuses recorded: ${statuses.join(', ')}`);

  // The agent records: a stereo WAV with the callee on the left and the agent on the right.
  const wav = Buffer.from(await (await fetch(`${server.url}/v1/calls/${placed.id}/recording?tenantId=seaview-hotel`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } })).arrayBuffer());
  const header = parseWavHeader(wav);
  assert.equal(header?.channels, 2);
  assert.equal(header?.sampleRateHz, 8000);
  const frames = new Int16Array(wav.buffer, wav.byteOffset + (header?.dataOffset ?? 44), Math.floor((wav.length - (header?.dataOffset ?? 44)) / 2));
  let left = 0;
  let right = 0;
  for (let i = 0; i + 1 < frames.length; i += 2) {
    left += Math.abs(frames[i] as number);
    right += Math.abs(frames[i + 1] as number);
  }
  const seconds = frames.length / 2 / 8000;
  assert.ok(seconds > 3, `the recording covers the call (${seconds.toFixed(1)} s)`);
  assert.ok(left > 0 && right > 0, 'both sides were recorded');
  // The call opens with the agent's greeting while the callee is silent: right loud, left quiet.
  let greetLeft = 0;
  let greetRight = 0;
  for (let i = 0; i + 1 < Math.min(frames.length, 2 * 8000 * 2); i += 2) {
    greetLeft += Math.abs(frames[i] as number);
    greetRight += Math.abs(frames[i + 1] as number);
  }
  assert.ok(greetRight > 10 * greetLeft, `the greeting is on the agent's channel only (right ${greetRight}, left ${greetLeft})`);

  const list = await fetch(`${server.url}/v1/calls?tenantId=seaview-hotel`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
  assert.equal(((await list.json()) as { data: unknown[] }).data.length, 1);
});

test('hanging up a live call through the API ends the media stream and the call', { timeout: E2E_TIMEOUT_MS }, async () => {
  const hangup = async (): Promise<void> => {
    for (let i = 0; i < 100; i++) {
      const live = (await (await fetch(`${server.url}/v1/calls?status=in_progress`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } })).json()) as { data: { id: string }[] };
      const id = live.data[0]?.id;
      if (id) {
        const r = await fetch(`${server.url}/v1/calls/${id}/hangup`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_KEY}` } });
        assert.equal(r.status, 202);
        return;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('no live call to hang up');
  };
  const [result] = await Promise.all([placeSimulatedCall({ baseUrl: server.url, to: HOTEL_NUMBER, authToken: AUTH_TOKEN, publicUrl: PUBLIC_URL, steps: [{ say: 'what time is breakfast' }, { say: 'do you have parking' }] }), hangup()]);
  assert.equal(result.closedBy, 'server');
  const call = await getCall(server, result.callSid);
  assert.equal(call.status, 'completed');
  assert.match(String(call.endReason), /hangup/);
});
