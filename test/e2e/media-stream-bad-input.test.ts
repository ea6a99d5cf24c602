import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { placeSimulatedCall, randomSid } from '../../src/cli/simulated-caller.js';
import type { ParleyServer } from '../../src/server/server.js';
import { connected, media, type Opened, openStream, SILENCE, startMessage } from '../support/raw-media-stream.js';
import { E2E_TIMEOUT_MS, getCall, HOTEL_NUMBER, hotelTenant, testServer } from '../support/server.js';

let server: ParleyServer;
before(async () => {
  server = await testServer([await hotelTenant()]);
});
after(() => server.close());



async function expectClosed(o: Opened, code: number, reasonPrefix: string): Promise<void> {
  const c = await o.closed;
  assert.equal(c.code, code, `close code for ${reasonPrefix}: ${c.reason}`);
  assert.ok(c.reason.startsWith(reasonPrefix), `reason "${c.reason}" should start with ${reasonPrefix}`);
}

test('bad input closes only that stream, with a clear reason, while a real call carries on', { timeout: E2E_TIMEOUT_MS }, async () => {
  const goodCall = placeSimulatedCall({ baseUrl: server.url, to: HOTEL_NUMBER, steps: [{ say: 'what time is breakfast' }] });

  const malformed = await openStream(server);
  malformed.ws.send(connected);
  malformed.ws.send('{"event": "media", oops');
  await expectClosed(malformed, 1008, 'malformed_json');

  const outOfOrder = await openStream(server);
  outOfOrder.ws.send(connected);
  outOfOrder.ws.send(media(outOfOrder.streamSid, SILENCE));
  await expectClosed(outOfOrder, 1008, 'out_of_order');

  const badBase64 = await openStream(server);
  badBase64.ws.send(connected);
  badBase64.ws.send(startMessage(badBase64));
  badBase64.ws.send(media(badBase64.streamSid, SILENCE));
  badBase64.ws.send(media(badBase64.streamSid, 'not base64 at all!'));
  await expectClosed(badBase64, 1008, 'invalid_payload');

  const unknownStream = await openStream(server);
  unknownStream.ws.send(connected);
  unknownStream.ws.send(startMessage(unknownStream));
  unknownStream.ws.send(media(randomSid('MZ'), SILENCE));
  await expectClosed(unknownStream, 1008, 'unknown_stream');

  const oversized = await openStream(server);
  oversized.ws.send(connected);
  oversized.ws.send(media(oversized.streamSid, 'A'.repeat(200_000)));
  assert.equal((await oversized.closed).code, 1009);

  const binary = await openStream(server);
  binary.ws.send(Buffer.from([1, 2, 3]));
  await expectClosed(binary, 1008, 'invalid_message');

  const noToken = await openStream(server);
  noToken.ws.send(connected);
  noToken.ws.send(startMessage(noToken, null));
  await expectClosed(noToken, 1008, 'unauthorized');

  const forged = await openStream(server);
  forged.ws.send(connected);
  forged.ws.send(startMessage(forged, `${forged.token.split('.')[0]}.AAAA`));
  await expectClosed(forged, 1008, 'unauthorized');

  // A token works for its own call only, once.
  const first = await openStream(server);
  first.ws.send(connected);
  first.ws.send(startMessage(first));
  const replay = await openStream(server);
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
