import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { parseStreamTwiml } from '../../src/cli/simulated-caller.js';
import type { ParleyServer } from '../../src/server/server.js';
import { twilioSignature } from '../../src/transports/twilio/signature.js';
import { HOTEL_NUMBER, hotelTenant, testServer } from '../support/server.js';

const PUBLIC_URL = 'https://parley.example.com';
const SIGNED_NUMBER = '+15550109999';
let server: ParleyServer;

before(async () => {
  const hotel = await hotelTenant();
  const signed = await hotelTenant((t) => ({ ...t, id: 'signed-hotel', phoneNumbers: [SIGNED_NUMBER], twilio: { authToken: 'tenant-secret' } }));
  server = await testServer([hotel, signed], { publicUrl: PUBLIC_URL });
});
after(() => server.close());

const form = (p: Record<string, string>): string => new URLSearchParams(p).toString();
const callParams = (to: string): Record<string, string> => ({ CallSid: 'CA0123456789abcdef0123456789abcdef', AccountSid: 'AC0123456789abcdef0123456789abcdef', From: '+15555550123', To: to, CallStatus: 'ringing', Direction: 'inbound' });

test('a call to a tenant number is connected to the bidirectional media stream with a signed token', async () => {
  const res = await server.app.inject({ method: 'POST', url: '/twilio/voice', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: form(callParams(HOTEL_NUMBER)) });
  assert.equal(res.statusCode, 200);
  assert.match(res.headers['content-type'] as string, /xml/);
  const stream = parseStreamTwiml(res.body);
  assert.ok(stream, res.body);
  assert.equal(stream.url, 'wss://parley.example.com/twilio/stream');
  assert.match(stream.parameters.parleyToken ?? '', /^[\w-]+\.[\w-]+$/);
  assert.match(res.body, /<Connect><Stream/);
});

test('an unknown number hears a message and is hung up on', async () => {
  const res = await server.app.inject({ method: 'POST', url: '/twilio/voice', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: form(callParams('+15550000000')) });
  assert.equal(res.statusCode, 200);
  assert.match(res.body, /<Say>[^<]+<\/Say><Hangup\/>/);
  assert.doesNotMatch(res.body, /<Stream/);
});

test('a tenant with an auth token requires a valid X-Twilio-Signature over the public URL', async () => {
  const params = callParams(SIGNED_NUMBER);
  const post = (signature?: string) =>
    server.app.inject({
      method: 'POST',
      url: '/twilio/voice',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...(signature ? { 'x-twilio-signature': signature } : {}) },
      payload: form(params),
    });
  assert.equal((await post()).statusCode, 403);
  assert.equal((await post(twilioSignature('wrong-secret', `${PUBLIC_URL}/twilio/voice`, params))).statusCode, 403);
  // Signed over the local URL instead of the public one Twilio actually requested.
  assert.equal((await post(twilioSignature('tenant-secret', `${server.url}/twilio/voice`, params))).statusCode, 403);
  const ok = await post(twilioSignature('tenant-secret', `${PUBLIC_URL}/twilio/voice`, params));
  assert.equal(ok.statusCode, 200);
  assert.ok(parseStreamTwiml(ok.body));
  const body = JSON.parse((await post()).body);
  assert.equal(body.error.code, 'invalid_signature');
});
