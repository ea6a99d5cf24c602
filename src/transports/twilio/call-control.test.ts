import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type FakeTwilioApi, startFakeTwilioApi } from '../../../test/fakes/twilio-api-server.js';
import { tenantSchema } from '../../tenants/schema.js';
import { createTwilioCallControl, whisperText } from './call-control.js';
import { TwilioRestClient } from './rest-client.js';
import { WhisperTokens } from './whisper-tokens.js';

const ACCOUNT = `AC${'b'.repeat(32)}`;
const TOKEN = 'call-control-token';
const tenant = tenantSchema.parse({ id: 'seaview', name: 'Seaview Hotel', agent: { greeting: 'Hi.', llm: { provider: 'openai' } }, twilio: { accountSid: ACCOUNT, authToken: TOKEN } });
const whisperTokens = new WhisperTokens('call-control-whisper-secret');
let twilio: FakeTwilioApi;
let callSid: string;

before(async () => {
  twilio = await startFakeTwilioApi({ accounts: { [ACCOUNT]: TOKEN } });
  callSid = (await new TwilioRestClient({ accountSid: ACCOUNT, authToken: TOKEN }, twilio.url).createCall({ to: '+15557654321', from: '+15550100000', url: 'https://p.example/u' })).sid;
});
after(() => twilio.close());

const lastTwiml = () => twilio.call(callSid).updates.at(-1)?.get('Twiml') ?? '';

test('the whisper introduces the transfer with the tenant name, then the briefing', () => {
  assert.equal(whisperText('Seaview Hotel', ' Late checkout for room 12. '), 'Incoming transfer from the Seaview Hotel assistant. Late checkout for room 12.');
  assert.equal(whisperText('Seaview Hotel', undefined), 'Incoming transfer from the Seaview Hotel assistant.');
});

test('warm transfer stores the briefing under a token in the whisper URL', async () => {
  await createTwilioCallControl({ tenant, callSid, baseUrl: twilio.url, publicUrl: 'https://parley.example.com', whisperTokens }).transfer('+15550100001', { mode: 'warm', briefing: 'Late checkout for room 12.' });
  const m = /<Number url="https:\/\/parley\.example\.com\/twilio\/whisper\/([^"]+)" method="POST">\+15550100001<\/Number>/.exec(lastTwiml());
  assert.ok(m?.[1], lastTwiml());
  assert.deepEqual(whisperTokens.resolve(m[1]), { ok: true, tenantId: 'seaview', text: 'Incoming transfer from the Seaview Hotel assistant. Late checkout for room 12.' });
});

test('without a public URL a warm transfer goes cold, and says so', async () => {
  const warnings: string[] = [];
  const log = { warn: (_o: Record<string, unknown>, msg: string) => void warnings.push(msg) };
  await createTwilioCallControl({ tenant, callSid, baseUrl: twilio.url, whisperTokens, log }).transfer('+15550100001', { mode: 'warm', briefing: 'x' });
  assert.match(lastTwiml(), /<Dial>\+15550100001<\/Dial>/);
  assert.equal(warnings.length, 1);
});

test('without REST credentials a transfer fails with a clear error', async () => {
  const bare = tenantSchema.parse({ id: 'bare', name: 'Bare', agent: { greeting: 'Hi.', llm: { provider: 'openai' } } });
  await assert.rejects(createTwilioCallControl({ tenant: bare, callSid, baseUrl: twilio.url, whisperTokens }).transfer('+15550100001'), /twilio\.accountSid and twilio\.authToken/);
});

test('Twilio refusing the update rejects the transfer (the agent then tells the caller)', async () => {
  await assert.rejects(
    createTwilioCallControl({ tenant, callSid: `CA${'0'.repeat(32)}`, baseUrl: twilio.url, whisperTokens }).transfer('+15550100001'),
    /HTTP 404/,
  );
});
