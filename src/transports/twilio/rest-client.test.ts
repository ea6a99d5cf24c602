import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type FakeTwilioApi, startFakeTwilioApi } from '../../../test/fakes/twilio-api-server.js';
import { TwilioApiError, TwilioRestClient } from './rest-client.js';

const ACCOUNT = `AC${'a'.repeat(32)}`;
const TOKEN = 'rest-client-token';
let twilio: FakeTwilioApi;
let client: TwilioRestClient;

before(async () => {
  twilio = await startFakeTwilioApi({ accounts: { [ACCOUNT]: TOKEN } });
  client = new TwilioRestClient({ accountSid: ACCOUNT, authToken: TOKEN }, twilio.url);
});
after(() => twilio.close());

const last = () => twilio.requests.at(-1) as FakeTwilioApi['requests'][number];

describe('createCall', () => {
  test('posts the documented form fields with Basic auth and returns the call sid and status', async () => {
    const created = await client.createCall({
      to: '+15557654321',
      from: '+15550100000',
      url: 'https://parley.example.com/twilio/outbound/call_1',
      statusCallback: 'https://parley.example.com/twilio/status?callId=call_1',
      statusCallbackEvents: ['initiated', 'ringing', 'answered', 'completed'],
    });
    assert.match(created.sid, /^CA[0-9a-f]{32}$/);
    assert.equal(created.status, 'queued');
    const req = last();
    assert.equal(req.path, `/2010-04-01/Accounts/${ACCOUNT}/Calls.json`);
    assert.equal(req.authorization, `Basic ${Buffer.from(`${ACCOUNT}:${TOKEN}`).toString('base64')}`);
    assert.equal(req.form.get('To'), '+15557654321');
    assert.equal(req.form.get('From'), '+15550100000');
    assert.equal(req.form.get('Url'), 'https://parley.example.com/twilio/outbound/call_1');
    assert.equal(req.form.get('Method'), 'POST');
    assert.equal(req.form.get('StatusCallback'), 'https://parley.example.com/twilio/status?callId=call_1');
    assert.equal(req.form.get('StatusCallbackMethod'), 'POST');
    assert.deepEqual(req.form.getAll('StatusCallbackEvent'), ['initiated', 'ringing', 'answered', 'completed']);
    assert.equal(req.form.get('MachineDetection'), null, 'no AMD unless asked');
  });

  test('machine detection asks for asynchronous AMD reporting to the status callback', async () => {
    await client.createCall({ to: '+15557654321', from: '+15550100000', url: 'https://p.example/u', statusCallback: 'https://p.example/s', machineDetection: true });
    const req = last();
    assert.equal(req.form.get('MachineDetection'), 'Enable');
    assert.equal(req.form.get('AsyncAmd'), 'true');
    assert.equal(req.form.get('AsyncAmdStatusCallback'), 'https://p.example/s');
    assert.equal(req.form.get('AsyncAmdStatusCallbackMethod'), 'POST');
  });

  test('a Twilio error carries its HTTP status, error code and message', async () => {
    twilio.failNextCreate(400, 21211, "The 'To' number +1555 is not a valid phone number.");
    const err = await client.createCall({ to: '+1555', from: '+15550100000', url: 'https://p.example/u' }).catch((e: unknown) => e);
    assert.ok(err instanceof TwilioApiError);
    assert.equal(err.status, 400);
    assert.equal(err.code, 21211);
    assert.match(err.message, /HTTP 400 The 'To' number/);
  });

  test('wrong credentials are a 401 error that does not echo the token', async () => {
    const bad = new TwilioRestClient({ accountSid: ACCOUNT, authToken: 'not-the-token' }, twilio.url);
    const err = await bad.createCall({ to: '+15557654321', from: '+15550100000', url: 'https://p.example/u' }).catch((e: unknown) => e);
    assert.ok(err instanceof TwilioApiError);
    assert.equal(err.status, 401);
    assert.doesNotMatch(err.message, /not-the-token/);
  });
});

describe('call updates', () => {
  test('endCall posts Status=completed (or canceled) to the call', async () => {
    const { sid } = await client.createCall({ to: '+15557654321', from: '+15550100000', url: 'https://p.example/u' });
    await client.endCall(sid, 'canceled');
    assert.equal(last().path, `/2010-04-01/Accounts/${ACCOUNT}/Calls/${sid}.json`);
    assert.equal(last().form.get('Status'), 'canceled');
    assert.equal(twilio.call(sid).status, 'canceled');
    await client.endCall(sid);
    assert.equal(last().form.get('Status'), 'completed');
  });

  test('ending an unknown call fails with Twilio\'s 404', async () => {
    const err = await client.endCall(`CA${'f'.repeat(32)}`).catch((e: unknown) => e);
    assert.ok(err instanceof TwilioApiError);
    assert.equal(err.status, 404);
  });

  test('cold transfer dials the number, or a SIP URI with <Sip>', async () => {
    const { sid } = await client.createCall({ to: '+15557654321', from: '+15550100000', url: 'https://p.example/u' });
    await client.transfer(sid, '+15550100001');
    assert.match(last().form.get('Twiml') ?? '', /<Response><Dial>\+15550100001<\/Dial><\/Response>/);
    await client.transfer(sid, 'sip:desk@pbx.example.com');
    assert.match(last().form.get('Twiml') ?? '', /<Dial><Sip>sip:desk@pbx\.example\.com<\/Sip><\/Dial>/);
  });

  test('warm transfer dials <Number url> so the answering person hears the whisper first', async () => {
    const { sid } = await client.createCall({ to: '+15557654321', from: '+15550100000', url: 'https://p.example/u' });
    await client.warmTransfer(sid, '+15550100001', 'https://parley.example.com/twilio/whisper/tok');
    assert.match(last().form.get('Twiml') ?? '', /<Dial><Number url="https:\/\/parley\.example\.com\/twilio\/whisper\/tok" method="POST">\+15550100001<\/Number><\/Dial>/);
  });
});
