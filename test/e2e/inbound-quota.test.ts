import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { parseStreamTwiml } from '../../src/cli/simulated-caller.js';
import { twilioSignature } from '../../src/transports/twilio/signature.js';
import { ACCOUNT_SID, ACME_NUMBER, AUTH_TOKEN, PUBLIC_URL, type Platform, acmeTenant, startPlatform } from '../support/platform.js';

const QUOTA_MESSAGE = 'Acme is very busy right now. Please call again later.';
let p: Platform;

before(async () => {
  p = await startPlatform([acmeTenant((t) => ({ ...t, quotas: { maxConcurrentCalls: 1, dailyCalls: 10, message: QUOTA_MESSAGE } }))]);
});
after(() => p.close());

async function incomingCall(callSid: string) {
  const params = { AccountSid: ACCOUNT_SID, ApiVersion: '2010-04-01', CallSid: callSid, CallStatus: 'ringing', Direction: 'inbound', From: '+15555550123', To: ACME_NUMBER };
  const res = await fetch(`${p.url}/twilio/voice`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': twilioSignature(AUTH_TOKEN, `${PUBLIC_URL}/twilio/voice`, params) },
    body: new URLSearchParams(params).toString(),
  });
  return { status: res.status, body: await res.text() };
}

test('under its quotas a call is connected to the media stream', async () => {
  const res = await incomingCall(`CA${'1'.repeat(32)}`);
  assert.equal(res.status, 200);
  assert.ok(parseStreamTwiml(res.body), res.body);
});

test('over a quota the caller hears the tenant\'s message, is hung up on, and the refusal is stored', async () => {
  // One call is live (its stream started): the concurrency limit of 1 is reached.
  await p.store.calls.create({ tenantId: 'acme', agentId: 'support', carrierCallSid: `CA${'2'.repeat(32)}`, direction: 'inbound', fromNumber: '+15555550100', toNumber: ACME_NUMBER, startedAtMs: Date.now() });
  const refusedSid = `CA${'3'.repeat(32)}`;
  const res = await incomingCall(refusedSid);
  assert.equal(res.status, 200);
  assert.match(res.body, /<Response><Say>Acme is very busy right now\. Please call again later\.<\/Say><Hangup\/><\/Response>/);
  assert.doesNotMatch(res.body, /<Stream/);
  const call = await p.store.calls.get(refusedSid);
  assert.ok(call);
  assert.equal(call.status, 'failed');
  assert.equal(call.endReason, 'quota_exceeded:max_concurrent_calls');
  assert.equal(call.direction, 'inbound');
  assert.ok(call.endedAtMs !== null);
  assert.deepEqual(call.events.map((e) => e.type), ['quota.exceeded']);
});

test('an unsigned request is refused before any quota record is written', async () => {
  const callSid = `CA${'4'.repeat(32)}`;
  const res = await fetch(`${p.url}/twilio/voice`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ CallSid: callSid, To: ACME_NUMBER, From: '+15555550123' }).toString(),
  });
  assert.equal(res.status, 403);
  assert.equal(await p.store.calls.get(callSid), undefined);
});
