import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { parseStreamTwiml } from '../../src/cli/simulated-caller.js';
import { createTwilioCallControl } from '../../src/transports/twilio/call-control.js';
import { twilioSignature } from '../../src/transports/twilio/signature.js';
import { ACCOUNT_SID, ACME_NUMBER, ACME_SALES_NUMBER, AUTH_TOKEN, PUBLIC_URL, type Platform, acmeTenant, startPlatform } from '../support/platform.js';

const CALLEE = '+15557654321';
let p: Platform;

before(async () => {
  const acme = acmeTenant();
  const globex = acmeTenant((t) => ({ ...t, id: 'globex', name: 'Globex', phoneNumbers: ['+15550200000'] }));
  const limited = acmeTenant((t) => ({ ...t, id: 'limited', name: 'Limited', phoneNumbers: ['+15550300000'], quotas: { maxConcurrentCalls: 1 } }));
  const nocreds = acmeTenant((t) => ({ ...t, id: 'nocreds', name: 'No creds', phoneNumbers: ['+15550400000'], twilio: undefined }));
  p = await startPlatform([acme, globex, limited, nocreds]);
});
after(() => p.close());

async function placeCall(body: Record<string, unknown>, tenantId = 'acme') {
  return p.app.inject({ method: 'POST', url: '/v1/calls', headers: p.auth(tenantId), payload: body });
}

async function placed(body: Record<string, unknown> = { to: CALLEE }, tenantId = 'acme'): Promise<{ id: string; callSid: string }> {
  const res = await placeCall(body, tenantId);
  assert.equal(res.statusCode, 201, res.body);
  const call = res.json();
  return { id: call.id, callSid: call.carrier.callSid };
}

async function stored(id: string) {
  const call = await p.store.calls.get(id);
  assert.ok(call, `call ${id} is stored`);
  return call;
}

describe('placing an outbound call', () => {
  test('the whole lifecycle: queued → Twilio create → ringing → answered into the media stream → completed', async () => {
    const res = await placeCall({ to: CALLEE, variables: { 'customer.name': 'Ada' } });
    assert.equal(res.statusCode, 201, res.body);
    const call = res.json();
    assert.equal(call.status, 'queued');
    assert.equal(call.direction, 'outbound');
    assert.equal(call.tenantId, 'acme');
    assert.equal(call.agentId, 'support');
    assert.equal(call.from, ACME_NUMBER);
    assert.equal(call.to, CALLEE);
    assert.deepEqual(call.metadata.variables, { 'customer.name': 'Ada' });
    assert.match(call.carrier.callSid, /^CA/);

    const fake = p.twilio.call(call.carrier.callSid);
    assert.equal(fake.create.get('To'), CALLEE);
    assert.equal(fake.create.get('From'), ACME_NUMBER);
    assert.equal(fake.create.get('Url'), `${PUBLIC_URL}/twilio/outbound/${call.id}`);
    assert.equal(fake.create.get('StatusCallback'), `${PUBLIC_URL}/twilio/status?callId=${call.id}`);
    assert.deepEqual(fake.create.getAll('StatusCallbackEvent'), ['initiated', 'ringing', 'answered', 'completed']);

    assert.equal((await p.twilio.sendStatus(fake.sid, 'initiated'))?.status, 200);
    assert.equal((await stored(call.id)).status, 'queued');
    assert.equal((await p.twilio.sendStatus(fake.sid, 'ringing'))?.status, 200);
    assert.equal((await stored(call.id)).status, 'ringing');

    const answered = await p.twilio.answer(fake.sid);
    assert.equal(answered.status, 200);
    const stream = parseStreamTwiml(answered.body);
    assert.ok(stream, answered.body);
    assert.equal(stream.url, 'wss://parley.example.com/twilio/stream');
    const check = p.streamTokens.consume(stream.parameters.parleyToken, fake.sid);
    assert.ok(check.ok);
    assert.equal(check.claims.callId, call.id);
    assert.equal(check.claims.tenantId, 'acme');
    assert.equal(check.claims.agentId, 'support');
    assert.equal(check.claims.from, ACME_NUMBER);
    assert.equal(check.claims.to, CALLEE);
    const live = await stored(call.id);
    assert.equal(live.status, 'in_progress');
    assert.ok(live.answeredAtMs !== null);

    await p.twilio.sendStatus(fake.sid, 'in-progress');
    // Callbacks can arrive out of order: a late `ringing` never moves an answered call back.
    await p.twilio.sendStatus(fake.sid, 'ringing');
    assert.equal((await stored(call.id)).status, 'in_progress');

    await p.twilio.sendStatus(fake.sid, 'completed');
    const ended = await stored(call.id);
    assert.equal(ended.status, 'completed');
    assert.equal(ended.endReason, 'carrier_completed');
    const types = ended.events.map((e) => e.type);
    assert.deepEqual(types, ['call.queued', 'carrier.call_created', 'carrier.status', 'carrier.status', 'carrier.answered', 'carrier.status', 'carrier.status', 'carrier.status']);
    assert.deepEqual(
      ended.events.filter((e) => e.type === 'carrier.status').map((e) => e.data.status),
      ['initiated', 'ringing', 'in-progress', 'ringing', 'completed'],
    );
  });

  test('the agent\'s own number is the default caller id; another agent calls from its number', async () => {
    const res = await placeCall({ to: CALLEE, agentId: 'sales' });
    assert.equal(res.statusCode, 201, res.body);
    assert.equal(res.json().from, ACME_SALES_NUMBER);
    assert.equal(res.json().agentId, 'sales');
    const explicit = await placeCall({ to: CALLEE, agentId: 'sales', from: ACME_NUMBER });
    assert.equal(explicit.json().from, ACME_NUMBER);
  });

  test('bad input is a 400 naming the field: not E.164, foreign caller id, unknown agent, unknown field', async () => {
    for (const [body, path] of [
      [{ to: '5557654321' }, 'to'],
      [{ to: CALLEE, from: '+15559999999' }, 'from'],
      [{ to: CALLEE, agentId: 'nobody' }, 'agentId'],
      [{ to: CALLEE, variables: { '1bad': 'x' } }, 'variables.1bad'],
      [{ to: CALLEE, dial: 'now' }, ''],
    ] as const) {
      const res = await placeCall(body);
      assert.equal(res.statusCode, 400, JSON.stringify(body));
      assert.equal(res.json().error.code, 'validation_failed');
      assert.deepEqual(res.json().error.details.map((d: { path: string }) => d.path), [path], JSON.stringify(body));
    }
    assert.equal(p.twilio.calls.filter((c) => c.to === '5557654321').length, 0, 'nothing was dialled');
  });

  test('over the concurrent-call quota: 429 quota_exceeded with Retry-After, and nothing is dialled', async () => {
    await placed({ to: CALLEE }, 'limited');
    const before = p.twilio.calls.length;
    const res = await placeCall({ to: CALLEE }, 'limited');
    assert.equal(res.statusCode, 429);
    assert.equal(res.headers['retry-after'], '30');
    assert.equal(res.json().error.code, 'quota_exceeded');
    assert.equal(res.json().error.details.quota, 'max_concurrent_calls');
    assert.equal(p.twilio.calls.length, before);
  });

  test('a tenant without Twilio credentials gets 422 not_configured', async () => {
    const res = await placeCall({ to: CALLEE }, 'nocreds');
    assert.equal(res.statusCode, 422);
    assert.equal(res.json().error.code, 'not_configured');
    assert.match(res.json().error.message, /accountSid/);
  });

  test('Twilio refusing the call: 502 upstream_failed naming the call, which is stored as failed', async () => {
    p.twilio.failNextCreate(400, 21215, 'Geographic permission is not enabled for this number');
    const res = await placeCall({ to: CALLEE });
    assert.equal(res.statusCode, 502);
    const err = res.json().error;
    assert.equal(err.code, 'upstream_failed');
    assert.match(err.message, /HTTP 400 Geographic permission/);
    assert.equal(err.details.twilioCode, 21215);
    const call = await stored(err.details.callId);
    assert.equal(call.status, 'failed');
    assert.equal(call.endReason, 'carrier_rejected');
    assert.ok(call.events.some((e) => e.type === 'carrier.error'));
  });

  test('a busy line ends the call busy; a later completed callback does not change it', async () => {
    const { id, callSid } = await placed();
    await p.twilio.sendStatus(callSid, 'busy');
    assert.equal((await stored(id)).status, 'busy');
    assert.equal((await stored(id)).endReason, 'carrier_busy');
    await p.twilio.sendStatus(callSid, 'completed');
    const call = await stored(id);
    assert.equal(call.status, 'busy');
    assert.equal(call.events.filter((e) => e.type === 'carrier.status').length, 2, 'both callbacks are recorded');
  });

  test('no answer ends the call no_answer', async () => {
    const { id, callSid } = await placed();
    await p.twilio.sendStatus(callSid, 'no-answer');
    assert.equal((await stored(id)).status, 'no_answer');
  });

  test('answering-machine detection: async AMD is requested and its AnsweredBy stored', async () => {
    const { id, callSid } = await placed({ to: CALLEE, machineDetection: true });
    assert.equal(p.twilio.call(callSid).create.get('MachineDetection'), 'Enable');
    assert.equal(p.twilio.call(callSid).create.get('AsyncAmdStatusCallback'), `${PUBLIC_URL}/twilio/status?callId=${id}`);
    await p.twilio.answer(callSid);
    assert.equal((await p.twilio.sendAmd(callSid, 'machine_start')).status, 200);
    const call = await stored(id);
    assert.equal(call.answeredBy, 'machine_start');
    assert.equal(call.status, 'in_progress');
    assert.deepEqual(call.events.find((e) => e.type === 'carrier.amd')?.data, { answeredBy: 'machine_start', durationMs: 2400 });
  });

  test('synchronous AMD: AnsweredBy on the answered webhook is stored', async () => {
    const { id, callSid } = await placed();
    await p.twilio.answer(callSid, { AnsweredBy: 'human' });
    assert.equal((await stored(id)).answeredBy, 'human');
  });
});

describe('Twilio call webhooks', () => {
  test('status callbacks must be signed with the tenant\'s auth token', async () => {
    const { id, callSid } = await placed();
    const params = { CallSid: callSid, AccountSid: ACCOUNT_SID, CallStatus: 'ringing' };
    const post = (signature?: string) =>
      fetch(`${p.url}/twilio/status?callId=${id}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...(signature ? { 'x-twilio-signature': signature } : {}) },
        body: new URLSearchParams(params).toString(),
      });
    assert.equal((await post()).status, 403);
    assert.equal((await post(twilioSignature('wrong-token', `${PUBLIC_URL}/twilio/status?callId=${id}`, params))).status, 403);
    assert.equal((await stored(id)).status, 'queued');
    assert.equal((await post(twilioSignature(AUTH_TOKEN, `${PUBLIC_URL}/twilio/status?callId=${id}`, params))).status, 200);
    assert.equal((await stored(id)).status, 'ringing');
  });

  test('a status callback for a call Parley does not know is acknowledged and ignored', async () => {
    const res = await fetch(`${p.url}/twilio/status`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ CallSid: `CA${'9'.repeat(32)}`, CallStatus: 'completed' }).toString(),
    });
    assert.equal(res.status, 200);
  });

  test('a status callback for an inbound call (found by CallSid) is recorded', async () => {
    const inbound = await p.store.calls.create({ tenantId: 'acme', agentId: 'support', carrierCallSid: `CA${'7'.repeat(32)}`, direction: 'inbound', fromNumber: CALLEE, toNumber: ACME_NUMBER, startedAtMs: Date.now() });
    const params = { CallSid: `CA${'7'.repeat(32)}`, AccountSid: ACCOUNT_SID, CallStatus: 'completed', CallDuration: '42' };
    const res = await p.twilio.postSigned(ACCOUNT_SID, `${PUBLIC_URL}/twilio/status`, params);
    assert.equal(res.status, 200);
    const call = await stored(inbound.id);
    assert.equal(call.status, 'completed');
    assert.deepEqual(call.events.at(-1)?.data, { status: 'completed', durationS: 42 });
  });

  test('the carrier ending a call whose session runs here leaves the end to the session', async () => {
    const { id, callSid } = await placed();
    await p.twilio.answer(callSid);
    const unregister = p.liveCalls.register(id, { hangup: () => {} });
    try {
      await p.twilio.sendStatus(callSid, 'completed');
      assert.equal((await stored(id)).status, 'in_progress');
    } finally {
      unregister();
    }
  });

  test('the answered webhook for an unknown or ended call hangs up', async () => {
    const unknown = await fetch(`${p.url}/twilio/outbound/call_nope`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ CallSid: `CA${'1'.repeat(32)}` }).toString(),
    });
    assert.equal(unknown.status, 200);
    assert.match(await unknown.text(), /<Response><Hangup\/><\/Response>/);

    const { callSid } = await placed();
    await p.twilio.sendStatus(callSid, 'canceled');
    const late = await p.twilio.answer(callSid);
    assert.match(late.body, /<Hangup\/>/);
    assert.doesNotMatch(late.body, /<Stream/);
  });

  test('the answered webhook must be signed', async () => {
    const { id, callSid } = await placed();
    const res = await fetch(`${p.url}/twilio/outbound/${id}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ CallSid: callSid, CallStatus: 'in-progress' }).toString(),
    });
    assert.equal(res.status, 403);
    assert.equal((await stored(id)).status, 'queued');
  });
});

describe('hanging up through the API', () => {
  const hangup = (id: string, tenantId = 'acme') => p.app.inject({ method: 'POST', url: `/v1/calls/${id}/hangup`, headers: p.auth(tenantId) });

  test('a queued call is ended through Twilio and stored canceled; a second hangup is a 409', async () => {
    const { id, callSid } = await placed();
    const res = await hangup(id);
    assert.equal(res.statusCode, 202, res.body);
    assert.equal(res.json().status, 'canceled');
    assert.equal(res.json().endReason, 'api_hangup');
    assert.equal(p.twilio.call(callSid).updates.at(-1)?.get('Status'), 'completed');
    const again = await hangup(id);
    assert.equal(again.statusCode, 409);
    assert.equal(again.json().error.code, 'conflict');
  });

  test('a call whose session runs here is hung up by its session', async () => {
    const { id, callSid } = await placed();
    await p.twilio.answer(callSid);
    const reasons: string[] = [];
    const unregister = p.liveCalls.register(id, { hangup: (r) => reasons.push(r) });
    try {
      const res = await hangup(id);
      assert.equal(res.statusCode, 202);
      assert.deepEqual(reasons, ['api_hangup']);
      assert.equal(p.twilio.call(callSid).updates.length, 0, 'the session, not the API, ends the carrier leg');
    } finally {
      unregister();
    }
  });

  test('another tenant\'s call is a 404 with none of its data', async () => {
    const { id, callSid } = await placed();
    const res = await hangup(id, 'globex');
    assert.equal(res.statusCode, 404);
    assert.deepEqual(res.json(), { error: { code: 'not_found', message: `Call ${id} not found` } });
    assert.equal(p.twilio.call(callSid).updates.length, 0);
    const read = await p.app.inject({ method: 'GET', url: `/v1/calls/${id}`, headers: p.auth('globex') });
    assert.equal(read.statusCode, 404);
  });
});

describe('warm transfer', () => {
  test('the person answering hears the briefing from the signed whisper URL, then is bridged', async () => {
    const tenant = p.tenants.get('acme');
    assert.ok(tenant);
    const { callSid } = await placed();
    const control = createTwilioCallControl({ tenant, callSid, baseUrl: p.twilio.url, publicUrl: PUBLIC_URL, whisperTokens: p.whisperTokens });
    await control.transfer('+15550100001', { mode: 'warm', briefing: 'Caller wants to move her booking to Friday.' });
    const twiml = p.twilio.call(callSid).updates.at(-1)?.get('Twiml') ?? '';
    const m = /<Number url="([^"]+)" method="POST">\+15550100001<\/Number>/.exec(twiml);
    assert.ok(m?.[1], twiml);
    const whisperUrl = m[1].replace(/&amp;/g, '&');
    assert.ok(whisperUrl.startsWith(`${PUBLIC_URL}/twilio/whisper/`));

    // Twilio fetches it for the transferee's leg, signed like every webhook.
    const child = { AccountSid: ACCOUNT_SID, CallSid: `CA${'5'.repeat(32)}`, CallStatus: 'in-progress', To: '+15550100001', From: ACME_NUMBER };
    const res = await p.twilio.postSigned(ACCOUNT_SID, whisperUrl, child);
    assert.equal(res.status, 200);
    assert.match(res.body, /<Response><Say>Incoming transfer from the Acme assistant\. Caller wants to move her booking to Friday\.<\/Say><\/Response>/);

    const unsigned = await fetch(whisperUrl.replace(PUBLIC_URL, p.url), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(child).toString(),
    });
    assert.equal(unsigned.status, 403);
  });

  test('a cold transfer dials the destination directly', async () => {
    const tenant = p.tenants.get('acme');
    assert.ok(tenant);
    const { callSid } = await placed();
    await createTwilioCallControl({ tenant, callSid, baseUrl: p.twilio.url, publicUrl: PUBLIC_URL, whisperTokens: p.whisperTokens }).transfer('+15550100001', { mode: 'cold' });
    assert.match(p.twilio.call(callSid).updates.at(-1)?.get('Twiml') ?? '', /<Dial>\+15550100001<\/Dial>/);
  });

  test('an unknown or expired whisper still lets the transfer connect (empty TwiML)', async () => {
    const res = await fetch(`${p.url}/twilio/whisper/not-a-token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: '' });
    assert.equal(res.status, 200);
    assert.match(await res.text(), /<Response\/>/);
  });
});
