import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import WebSocket from 'ws';
import { parseStreamTwiml, placeSimulatedCall, randomSid } from '../../src/cli/simulated-caller.js';
import type { ParleyServer } from '../../src/server/server.js';
import { E2E_TIMEOUT_MS, getCall, HOTEL_NUMBER, hotelTenant, testServer } from '../support/server.js';

let server: ParleyServer;
before(async () => {
  server = await testServer([await hotelTenant()]);
});
after(() => server.close());

interface Opened {
  ws: WebSocket;
  token: string;
  callSid: string;
  streamSid: string;
  closed: Promise<{ code: number; reason: string }>;
}

/** Does what Twilio does up to the open socket: webhook, then WebSocket to the TwiML's stream. */
async function openStream(): Promise<Opened> {
  const callSid = randomSid('CA');
  const res = await fetch(`${server.url}/twilio/voice`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ CallSid: callSid, From: '+15555550100', To: HOTEL_NUMBER }).toString(),
  });
  const stream = parseStreamTwiml(await res.text());
  assert.ok(stream);
  const ws = new WebSocket(`${server.url.replace('http', 'ws')}${new URL(stream.url).pathname}`);
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  ws.on('error', () => {});
  await new Promise((r) => ws.once('open', r));
  return { ws, token: stream.parameters.parleyToken ?? '', callSid, streamSid: randomSid('MZ'), closed };
}

/** `token: null` sends a start without the stream token. */
function startMessage(o: Opened, token: string | null = o.token): string {
  return JSON.stringify({
    event: 'start',
    sequenceNumber: '1',
    streamSid: o.streamSid,
    start: {
      accountSid: randomSid('AC'),
      streamSid: o.streamSid,
      callSid: o.callSid,
      tracks: ['inbound'],
      mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
      customParameters: token === null ? {} : { parleyToken: token },
    },
  });
}

const connected = JSON.stringify({ event: 'connected', protocol: 'Call', version: '1.0.0' });
const media = (streamSid: string, payload: string): string =>
  JSON.stringify({ event: 'media', sequenceNumber: '2', streamSid, media: { track: 'inbound', chunk: '1', timestamp: '0', payload } });
const SILENCE = Buffer.alloc(160, 0xff).toString('base64');

async function expectClosed(o: Opened, code: number, reasonPrefix: string): Promise<void> {
  const c = await o.closed;
  assert.equal(c.code, code, `close code for ${reasonPrefix}: ${c.reason}`);
  assert.ok(c.reason.startsWith(reasonPrefix), `reason "${c.reason}" should start with ${reasonPrefix}`);
}

test('bad input closes only that stream, with a clear reason, while a real call carries on', { timeout: E2E_TIMEOUT_MS }, async () => {
  const goodCall = placeSimulatedCall({ baseUrl: server.url, to: HOTEL_NUMBER, steps: [{ say: 'what time is breakfast' }] });

  const malformed = await openStream();
  malformed.ws.send(connected);
  malformed.ws.send('{"event": "media", oops');
  await expectClosed(malformed, 1008, 'malformed_json');

  const outOfOrder = await openStream();
  outOfOrder.ws.send(connected);
  outOfOrder.ws.send(media(outOfOrder.streamSid, SILENCE));
  await expectClosed(outOfOrder, 1008, 'out_of_order');

  const badBase64 = await openStream();
  badBase64.ws.send(connected);
  badBase64.ws.send(startMessage(badBase64));
  badBase64.ws.send(media(badBase64.streamSid, SILENCE));
  badBase64.ws.send(media(badBase64.streamSid, 'not base64 at all!'));
  await expectClosed(badBase64, 1008, 'invalid_payload');

  const unknownStream = await openStream();
  unknownStream.ws.send(connected);
  unknownStream.ws.send(startMessage(unknownStream));
  unknownStream.ws.send(media(randomSid('MZ'), SILENCE));
  await expectClosed(unknownStream, 1008, 'unknown_stream');

  const oversized = await openStream();
  oversized.ws.send(connected);
  oversized.ws.send(media(oversized.streamSid, 'A'.repeat(200_000)));
  assert.equal((await oversized.closed).code, 1009);

  const binary = await openStream();
  binary.ws.send(Buffer.from([1, 2, 3]));
  await expectClosed(binary, 1008, 'invalid_message');

  const noToken = await openStream();
  noToken.ws.send(connected);
  noToken.ws.send(startMessage(noToken, null));
  await expectClosed(noToken, 1008, 'unauthorized');

  const forged = await openStream();
  forged.ws.send(connected);
  forged.ws.send(startMessage(forged, `${forged.token.split('.')[0]}.AAAA`));
  await expectClosed(forged, 1008, 'unauthorized');

  // A token works for its own call only, once.
  const first = await openStream();
  first.ws.send(connected);
  first.ws.send(startMessage(first));
  const replay = await openStream();
  replay.ws.send(connected);
  replay.ws.send(startMessage({ ...replay, callSid: first.callSid }, first.token));
  await expectClosed(replay, 1008, 'unauthorized');
  first.ws.close();

  const result = await goodCall;
  assert.equal(result.utterances.length, 1);
  assert.ok(result.utterances[0]?.heardLatencyMs !== undefined, 'the good call got its answer');
  const record = await getCall(server, result.callSid);
  assert.equal(record.status, 'completed');
  const agentTurns = record.turns.filter((t: { role: string }) => t.role === 'agent');
  assert.ok(agentTurns.length >= 2, 'greeting and an answer');
  assert.match(agentTurns.at(-1).text.toLowerCase(), /breakfast/);

  const health = await fetch(`${server.url}/health`);
  assert.equal(health.status, 200);
  const metrics = await (await fetch(`${server.url}/metrics`)).text();
  assert.match(metrics, /parley_stream_errors_total\{reason="unauthorized"\} [1-9]/);
});
