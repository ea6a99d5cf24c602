import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { placeSimulatedCall } from '../../src/cli/simulated-caller.js';
import type { ParleyServer } from '../../src/server/server.js';
import { type FakeDeepgram, startFakeDeepgram } from '../fakes/deepgram-server.js';
import { type FakeElevenLabsServer, startFakeElevenLabs } from '../fakes/elevenlabs-server.js';
import { E2E_TIMEOUT_MS, getCall, hotelTenant, testServer } from '../support/server.js';

const TTS_DROPS = '+15550100301';
const STT_REFUSED = '+15550100302';
const SILERO = '+15550100303';
let server: ParleyServer;
let elevenlabs: FakeElevenLabsServer;
let deepgram: FakeDeepgram;

before(async () => {
  // Every ElevenLabs stream dies after its first audio message; every Deepgram connection gets 500.
  elevenlabs = await startFakeElevenLabs({ fault: { kind: 'drop', afterMessages: 1 } });
  deepgram = await startFakeDeepgram({ rejectStatus: 500 });
  const ttsTenant = await hotelTenant((t) => ({
    ...t,
    id: 'hotel-tts',
    phoneNumbers: [TTS_DROPS],
    agent: {
      ...t.agent,
      tts: [{ provider: 'elevenlabs', baseUrl: elevenlabs.url, apiKey: 'test-elevenlabs-key', voiceId: 'voice1' }, { provider: 'espeak' }],
    },
  }));
  const sttTenant = await hotelTenant((t) => ({
    ...t,
    id: 'hotel-stt',
    phoneNumbers: [STT_REFUSED],
    agent: { ...t.agent, stt: [{ provider: 'deepgram', baseUrl: deepgram.url, apiKey: 'test-key' }, { provider: 'pocketsphinx' }] },
  }));
  const sileroTenant = await hotelTenant((t) => ({ ...t, id: 'hotel-silero', phoneNumbers: [SILERO], agent: { ...t.agent, vad: 'silero' } }));
  server = await testServer([ttsTenant, sttTenant, sileroTenant]);
});
after(async () => {
  await server.close();
  await elevenlabs.close();
  await deepgram.close();
});

interface Recorded {
  turns: { role: string; text: string }[];
  events: { type: string; data: Record<string, unknown> }[];
}

test('a TTS that drops mid-sentence is continued by the next provider and the caller still gets the answer', { timeout: E2E_TIMEOUT_MS }, async () => {
  const result = await placeSimulatedCall({ baseUrl: server.url, to: TTS_DROPS, steps: [{ say: 'what time is breakfast' }] });
  assert.ok(result.utterances[0]?.heardLatencyMs !== undefined, 'the caller heard an answer');
  const call = (await getCall(server, result.callSid)) as Recorded;
  assert.match(call.turns.filter((t) => t.role === 'agent')[1]?.text ?? '', /Breakfast is served/);
  const switches = call.events.filter((e) => e.type === 'provider.fallback').map((e) => e.data);
  assert.ok(switches.length >= 1);
  assert.deepEqual({ kind: switches[0]?.kind, from: switches[0]?.from, to: switches[0]?.to }, { kind: 'tts', from: 'elevenlabs', to: 'espeak' });
  assert.match(String(switches[0]?.reason), /drop|closed|mid-stream/i);
  assert.ok(elevenlabs.requests.length >= 1, 'ElevenLabs was tried');
});

test('an STT refusing the connection is replaced by the next and the caller is understood', { timeout: E2E_TIMEOUT_MS }, async () => {
  const result = await placeSimulatedCall({ baseUrl: server.url, to: STT_REFUSED, steps: [{ say: 'what time is breakfast' }] });
  const call = (await getCall(server, result.callSid)) as Recorded;
  assert.match(call.turns.find((t) => t.role === 'user')?.text ?? '', /breakfast/);
  assert.match(call.turns.filter((t) => t.role === 'agent')[1]?.text ?? '', /Breakfast is served/);
  const sw = call.events.find((e) => e.type === 'provider.fallback')?.data;
  assert.deepEqual({ kind: sw?.kind, from: sw?.from, to: sw?.to }, { kind: 'stt', from: 'deepgram', to: 'pocketsphinx' });
  assert.match(String(sw?.reason), /500/);
});

test('with the Silero VAD a caller is heard, answered, and can interrupt', { timeout: E2E_TIMEOUT_MS }, async () => {
  const result = await placeSimulatedCall({ baseUrl: server.url, to: SILERO, steps: [{ say: 'what time is breakfast', bargeInAfterMs: 1000 }] });
  assert.ok(result.clearsReceived >= 1, 'barge-in over the greeting');
  const call = (await getCall(server, result.callSid)) as Recorded & { turns: { interrupted: boolean }[] };
  assert.equal(call.turns[0]?.interrupted, true);
  assert.match(call.turns.find((t) => t.role === 'user')?.text ?? '', /breakfast/);
  assert.match(call.turns.filter((t) => t.role === 'agent')[1]?.text ?? '', /Breakfast is served/);
});
