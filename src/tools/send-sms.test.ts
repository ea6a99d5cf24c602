import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { runTool } from './registry.js';
import { createSendSmsTool } from './send-sms.js';
import { ACCOUNT_SID, AUTH_TOKEN, BUSINESS, CALLER, contextFor, tenantWith } from './test-support.js';

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  raw: string;
}

/** A fake of Twilio's Messages API: answers like the real one (201 + message JSON, or 400 + error JSON). */
let twilio: http.Server;
let baseUrl: string;
const seen: Seen[] = [];
let answer: { status: number; body: unknown } | 'hang' = { status: 201, body: {} };
const sockets = new Set<Socket>();

before(async () => {
  twilio = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, raw: Buffer.concat(chunks).toString('utf8') });
      if (answer === 'hang') return;
      res.writeHead(answer.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(answer.body));
    });
  });
  twilio.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  twilio.listen(0, '127.0.0.1');
  await once(twilio, 'listening');
  baseUrl = `http://127.0.0.1:${(twilio.address() as AddressInfo).port}`;
});

after(async () => {
  for (const s of sockets) s.destroy();
  twilio.close();
  await once(twilio, 'close');
});

const withTwilio = () => tenantWith([{ type: 'send_sms' }], { twilio: { accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN } });

describe('send_sms', () => {
  it("sends Twilio's documented Messages request: to the caller, from the business number", async () => {
    answer = { status: 201, body: { sid: 'SM0123456789abcdef0123456789abcdef', status: 'queued', to: CALLER, from: BUSINESS } };
    const tool = createSendSmsTool({ twilioApiBaseUrl: baseUrl });
    const r = await tool.run({ body: 'Seaview Hotel: 12 Harbour Rd. See you Friday & thanks!' }, contextFor(withTwilio()));
    assert.deepEqual(r, { ok: true, data: { sent: true, messageSid: 'SM0123456789abcdef0123456789abcdef' } });

    const req = seen.at(-1)!;
    assert.equal(req.method, 'POST');
    assert.equal(req.url, `/2010-04-01/Accounts/${ACCOUNT_SID}/Messages.json`);
    assert.equal(req.headers['authorization'], `Basic ${Buffer.from(`${ACCOUNT_SID}:${AUTH_TOKEN}`).toString('base64')}`);
    assert.equal(req.headers['content-type'], 'application/x-www-form-urlencoded');
    const form = new URLSearchParams(req.raw);
    assert.deepEqual([...form.keys()].sort(), ['Body', 'From', 'To']);
    assert.equal(form.get('To'), CALLER);
    assert.equal(form.get('From'), BUSINESS);
    assert.equal(form.get('Body'), 'Seaview Hotel: 12 Harbour Rd. See you Friday & thanks!');
  });

  it('offers no way to choose the recipient', async () => {
    const tool = createSendSmsTool({ twilioApiBaseUrl: baseUrl });
    assert.deepEqual(Object.keys(tool.spec.parameters['properties'] as object), ['body']);
    const r = await runTool(tool, { body: 'hi', to: '+15559999999' }, contextFor(withTwilio()));
    assert.equal(r.ok, false);
    assert.match(!r.ok ? r.error : '', /arguments\.to is not an accepted argument/);
  });

  it('refuses bodies over 1600 characters before calling Twilio', async () => {
    const before = seen.length;
    const r = await runTool(createSendSmsTool({ twilioApiBaseUrl: baseUrl }), { body: 'x'.repeat(1601) }, contextFor(withTwilio()));
    assert.equal(r.ok, false);
    assert.match(!r.ok ? r.error : '', /at most 1600 characters/);
    assert.equal(seen.length, before);
  });

  it('answers an error when the tenant has no Twilio credentials', async () => {
    const before = seen.length;
    const r = await createSendSmsTool({ twilioApiBaseUrl: baseUrl }).run({ body: 'hi' }, contextFor(tenantWith([{ type: 'send_sms' }])));
    assert.deepEqual(r, { ok: false, error: 'text messages are not set up for this business (twilio.accountSid and twilio.authToken are missing)' });
    assert.equal(seen.length, before);
  });

  it("answers an error when the caller's number is withheld", async () => {
    const r = await createSendSmsTool({ twilioApiBaseUrl: baseUrl }).run({ body: 'hi' }, contextFor(withTwilio(), { remoteNumber: 'anonymous' }));
    assert.equal(r.ok, false);
  });

  it("passes Twilio's refusal on without the auth token", async () => {
    answer = { status: 400, body: { code: 21610, message: 'Attempt to send to unsubscribed recipient', more_info: 'https://www.twilio.com/docs/errors/21610', status: 400 } };
    const r = await createSendSmsTool({ twilioApiBaseUrl: baseUrl }).run({ body: 'hi' }, contextFor(withTwilio()));
    assert.deepEqual(r, { ok: false, error: 'Twilio refused the SMS: HTTP 400 (21610): Attempt to send to unsubscribed recipient' });
    assert.doesNotMatch(JSON.stringify(r), new RegExp(AUTH_TOKEN));
  });

  it('gives up when the call ends while Twilio is not answering', async () => {
    answer = 'hang';
    const ac = new AbortController();
    const p = createSendSmsTool({ twilioApiBaseUrl: baseUrl }).run({ body: 'hi' }, contextFor(withTwilio(), { signal: ac.signal }));
    ac.abort();
    assert.deepEqual(await p, { ok: false, error: 'the SMS request was canceled' });
  });
});
