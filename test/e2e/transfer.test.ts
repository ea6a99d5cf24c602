import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { after, before, test } from 'node:test';
import { placeSimulatedCall } from '../../src/cli/simulated-caller.js';
import type { ParleyServer } from '../../src/server/server.js';
import { E2E_TIMEOUT_MS, getCall, HOTEL_NUMBER, hotelTenant, testServer } from '../support/server.js';

const ACCOUNT_SID = `AC${'0'.repeat(31)}1`;
const AUTH_TOKEN = 'hotel-twilio-token';
const PUBLIC_URL = 'https://parley.example.com';

interface TwilioRequest {
  path: string;
  authorization: string | undefined;
  form: URLSearchParams;
}

/** A loopback stand-in for Twilio's REST API: records call updates and answers as Twilio does. */
let twilio: Server;
const requests: TwilioRequest[] = [];
let server: ParleyServer;

async function body(req: IncomingMessage): Promise<string> {
  let s = '';
  for await (const chunk of req) s += chunk;
  return s;
}

before(async () => {
  twilio = createServer(async (req, res) => {
    requests.push({ path: req.url ?? '', authorization: req.headers.authorization, form: new URLSearchParams(await body(req)) });
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ sid: 'CA', status: 'in-progress' }));
  });
  await new Promise<void>((r) => twilio.listen(0, '127.0.0.1', r));
  const address = twilio.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const tenant = await hotelTenant((t) => ({ ...t, twilio: { accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN } }));
  server = await testServer([tenant], { publicUrl: PUBLIC_URL, twilioApiBaseUrl: `http://127.0.0.1:${port}` });
});
after(async () => {
  await server.close();
  twilio.close();
});

test('asking for a person transfers the live call through Twilio\'s REST API after the agent says so', { timeout: E2E_TIMEOUT_MS }, async () => {
  const result = await placeSimulatedCall({
    baseUrl: server.url,
    to: HOTEL_NUMBER,
    authToken: AUTH_TOKEN,
    publicUrl: PUBLIC_URL,
    steps: [{ say: 'can I speak to a person' }],
  });
  assert.equal(requests.length, 1, 'one call update');
  const update = requests[0] as TwilioRequest;
  assert.equal(update.path, `/2010-04-01/Accounts/${ACCOUNT_SID}/Calls/${result.callSid}.json`);
  assert.equal(update.authorization, `Basic ${Buffer.from(`${ACCOUNT_SID}:${AUTH_TOKEN}`).toString('base64')}`);
  assert.match(update.form.get('Twiml') ?? '', /<Dial>\+15550100001<\/Dial>/);

  const call = await getCall(server, result.callSid);
  assert.equal(call.endReason, 'transfer');
  const agent = (call.turns as { role: string; text: string }[]).filter((t) => t.role === 'agent');
  assert.match(agent.at(-1)?.text ?? '', /Connecting you to the front desk/);
  const types = (call.events as { type: string }[]).map((e) => e.type);
  assert.ok(types.includes('call.transferred'));
});

test('pressing 0 (a keypad menu in the flow) transfers to the front desk', { timeout: E2E_TIMEOUT_MS }, async () => {
  const before = requests.length;
  const result = await placeSimulatedCall({ baseUrl: server.url, to: HOTEL_NUMBER, authToken: AUTH_TOKEN, publicUrl: PUBLIC_URL, steps: [{ dtmf: '0#' }] });
  assert.equal(requests.length, before + 1, 'one call update');
  assert.match(requests.at(-1)?.form.get('Twiml') ?? '', /<Dial>\+15550100001<\/Dial>/);
  const call = await getCall(server, result.callSid);
  assert.equal(call.endReason, 'transfer');
  assert.deepEqual((call.turns as { role: string; text: string }[]).filter((t) => t.role === 'user').map((t) => t.text), ['[keypad] 0']);
});
