import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { placeSimulatedCall } from '../../src/cli/simulated-caller.js';
import type { ParleyServer } from '../../src/server/server.js';
import { E2E_TIMEOUT_MS, getCall, HOTEL_NUMBER, hotelTenant, testServer } from '../support/server.js';

/** Conversation quality on the demo hotel: backchannels, resuming, greetings from the phrase cache. */
let server: ParleyServer;

before(async () => {
  server = await testServer([await hotelTenant()]);
});
after(async () => {
  await server.close();
});

type Turn = { role: string; text: string; interrupted: boolean };
type Event = { type: string; data: Record<string, unknown> };

test('a backchannel over the agent does not derail it: the agent resumes where it stopped', { timeout: E2E_TIMEOUT_MS }, async () => {
  const result = await placeSimulatedCall({
    baseUrl: server.url,
    to: HOTEL_NUMBER,
    steps: [{ say: 'what time is breakfast' }, { say: 'okay', bargeInAfterMs: 1_500 }],
    quietMs: 2_500,
  });
  const call = await getCall(server, result.callSid);
  const events = call.events as Event[];
  const bargeIn = events.find((e) => e.type === 'barge_in');
  const resumed = events.find((e) => e.type === 'barge_in.resumed');
  assert.ok(bargeIn, 'the caller talked over the agent');
  assert.ok(resumed, `the agent resumed (events: ${events.map((e) => e.type).join(', ')})`);
  const agent = (call.turns as Turn[]).filter((t) => t.role === 'agent');
  const interrupted = agent.find((t) => t.interrupted);
  const after = agent.at(-1);
  assert.ok(interrupted && after && !after.interrupted);
  // The interrupted part and the resumed part together are the whole answer, without repeating.
  assert.equal(`${interrupted.text} ${after.text}`, bargeIn.data.plannedText);
  assert.ok(!(call.turns as Turn[]).some((t) => t.role === 'user' && /okay/i.test(t.text)), 'the backchannel is not a turn for the agent to answer');
});

test('greetings are synthesised at start-up, so calls start speaking from the phrase cache', { timeout: E2E_TIMEOUT_MS }, async () => {
  for (let i = 0; i < 100 && server.phraseCache.sizeBytes === 0; i++) await new Promise((r) => setTimeout(r, 100));
  assert.ok(server.phraseCache.sizeBytes > 0, 'the greeting was pre-synthesised');
  const hits = server.phraseCache.hits;
  const result = await placeSimulatedCall({ baseUrl: server.url, to: HOTEL_NUMBER, steps: [] });
  const call = await getCall(server, result.callSid);
  assert.match((call.turns as Turn[])[0]?.text ?? '', /^Thank you for calling the Seaview Hotel/);
  assert.ok(server.phraseCache.hits >= hits + 2, 'both greeting sentences came from the cache');
});
