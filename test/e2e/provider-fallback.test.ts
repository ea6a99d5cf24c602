import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { placeSimulatedCall } from '../../src/cli/simulated-caller.js';
import type { ParleyServer } from '../../src/server/server.js';
import type { TenantConfig } from '../../src/tenants/schema.js';
import { type FakeServer, openAiTextChunks, startFakeOpenAi } from '../fakes/openai-server.js';
import { E2E_TIMEOUT_MS, getCall, hotelTenant, testServer } from '../support/server.js';

/** One tenant per fake: the LLM chain is the fake OpenAI-compatible server, then the flow agent. */
const NUMBERS = { healthy: '+15550100201', failing: '+15550100202', stalled: '+15550100203', limited: '+15550100204', refused: '+15550100205' } as const;
let server: ParleyServer;
const fakes: Record<Exclude<keyof typeof NUMBERS, 'refused'>, FakeServer> = {} as never;
/** Nothing listens on port 1 of loopback: connection refused. */
const REFUSED_URL = 'http://127.0.0.1:1/v1';

before(async () => {
  fakes.healthy = await startFakeOpenAi({ chunks: openAiTextChunks(['Breakfast ', 'is from seven ', 'to ten.']) });
  fakes.failing = await startFakeOpenAi({ status: 500 });
  fakes.stalled = await startFakeOpenAi({ stallBeforeFirstByte: true });
  fakes.limited = await startFakeOpenAi({ status: 429 });
  const tenants: TenantConfig[] = [];
  for (const [kind, number] of Object.entries(NUMBERS) as [keyof typeof NUMBERS, string][]) {
    tenants.push(
      await hotelTenant((t) => ({
        ...t,
        id: `hotel-${kind}`,
        phoneNumbers: [number],
        agent: {
          ...t.agent,
          greeting: 'Seaview Hotel.',
          systemPrompt: 'You are the front desk of the Seaview Hotel.',
          llm: [{ provider: 'openai', baseUrl: kind === 'refused' ? REFUSED_URL : fakes[kind].url, model: 'test-model', apiKey: 'sk-test-secret' }, { provider: 'flow' }],
        },
      })),
    );
  }
  server = await testServer(tenants);
});
after(async () => {
  await server.close();
  for (const f of Object.values(fakes)) await f.close();
});

async function ask(number: string): Promise<{ agent: string; latency: Record<string, number>; events: { type: string; data: Record<string, unknown> }[] }> {
  const result = await placeSimulatedCall({ baseUrl: server.url, to: number, steps: [{ say: 'what time is breakfast' }] });
  const call = await getCall(server, result.callSid);
  const answer = (call.turns as { role: string; text: string; latency: Record<string, number> }[]).filter((t) => t.role === 'agent')[1];
  assert.ok(answer, 'the caller got an answer');
  return { agent: answer.text, latency: answer.latency, events: call.events };
}

test('an OpenAI-compatible LLM answers with the system prompt, history and tools it was given', { timeout: E2E_TIMEOUT_MS }, async () => {
  const { agent, events } = await ask(NUMBERS.healthy);
  assert.equal(agent, 'Breakfast is from seven to ten.');
  assert.ok(!events.some((e) => e.type === 'provider.fallback'));
  const body = fakes.healthy.requests[0]?.body as { model: string; stream: boolean; messages: { role: string; content: string }[]; tools: { function: { name: string } }[] };
  assert.equal(body.model, 'test-model');
  assert.equal(body.stream, true);
  assert.deepEqual(body.messages[0], { role: 'system', content: 'You are the front desk of the Seaview Hotel.' });
  assert.match(body.messages.at(-1)?.content ?? '', /breakfast/);
  assert.deepEqual(
    body.tools.map((t) => t.function.name),
    ['end_call'],
  );
  assert.equal(fakes.healthy.requests[0]?.headers.authorization, 'Bearer sk-test-secret');
});

test('an LLM answering HTTP 500 is replaced by the next in the chain and the call record shows the switch', { timeout: E2E_TIMEOUT_MS }, async () => {
  const { agent, events } = await ask(NUMBERS.failing);
  assert.match(agent, /Breakfast is served/, 'the flow agent answered');
  const sw = events.find((e) => e.type === 'provider.fallback');
  assert.deepEqual({ kind: sw?.data.kind, from: sw?.data.from, to: sw?.data.to }, { kind: 'llm', from: 'openai', to: 'flow' });
  assert.match(String(sw?.data.reason), /500/);
  assert.doesNotMatch(JSON.stringify(events), /sk-test-secret/);
});

test('an LLM that accepts the request and says nothing is abandoned at the first-token deadline', { timeout: E2E_TIMEOUT_MS }, async () => {
  const { agent, latency, events } = await ask(NUMBERS.stalled);
  assert.match(agent, /Breakfast is served/);
  const sw = events.find((e) => e.type === 'provider.fallback');
  assert.match(String(sw?.data.reason), /no output within 1500 ms/);
  // The deadline (1.5 s) plus the flow agent and TTS: the caller waits about a second more than usual.
  const firstTokenMs = latency.llmFirstTokenMs ?? -1;
  assert.ok(firstTokenMs >= 1500 && firstTokenMs < 2500, JSON.stringify(latency));
});

for (const [kind, expected] of [
  ['limited', /429/],
  ['refused', /ECONNREFUSED|refused|connect/i],
] as const) {
  test(`an LLM answering ${kind === 'limited' ? 'HTTP 429' : 'with a refused connection'} fails over and the call goes on`, { timeout: E2E_TIMEOUT_MS }, async () => {
    const { agent, latency, events } = await ask(NUMBERS[kind]);
    assert.match(agent, /Breakfast is served/);
    const sw = events.find((e) => e.type === 'provider.fallback');
    assert.equal(sw?.data.to, 'flow');
    assert.match(String(sw?.data.reason), expected);
    assert.ok((latency.llmFirstTokenMs ?? Infinity) < 1000, `fail-over took ${latency.llmFirstTokenMs} ms`);
  });
}
