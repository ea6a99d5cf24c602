import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { detectDtmf } from '../../src/audio/dtmf.js';
import { placeSimulatedCall } from '../../src/cli/simulated-caller.js';
import type { ParleyServer } from '../../src/server/server.js';
import { verifySignature } from '../../src/tools/signature.js';
import { type FakeServer, openAiTextChunks, openAiToolCallChunks, startFakeOpenAi } from '../fakes/openai-server.js';
import { E2E_TIMEOUT_MS, getCall, hotelTenant, testServer } from '../support/server.js';

/**
 * Whole calls with an LLM agent using tools: the model (a loopback fake of OpenAI's streaming API)
 * asks for a tool, Parley runs it and gives the result back, and the model's next answer is spoken.
 * Tenant webhooks receive call.started, tool.called and call.ended along the way.
 */
const NUMBERS = { knowledge: '+15550100301', slow: '+15550100302', keypad: '+15550100303' } as const;
const TOOL_SECRET = 'order-tool-secret-0123456789';
const WEBHOOK_SECRET = 'webhook-secret-0123456789';
const ORDER_TOOL_DELAY_MS = 2_500;

let server: ParleyServer;
const llm: Record<keyof typeof NUMBERS, FakeServer> = {} as never;
let orderApi: Server;
const orderRequests: { signature: string | undefined; body: string }[] = [];
let receiver: Server;
const webhooks: { type: string; body: Record<string, any>; signature: string | undefined; raw: string }[] = [];

async function readBody(req: IncomingMessage): Promise<string> {
  let s = '';
  for await (const chunk of req) s += chunk;
  return s;
}

async function listen(handler: (req: IncomingMessage, body: string) => Promise<[number, unknown]>): Promise<Server> {
  const s = createServer(async (req, res) => {
    const [status, payload] = await handler(req, await readBody(req));
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(payload));
  });
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return s;
}
const urlOf = (s: Server): string => `http://127.0.0.1:${(s.address() as AddressInfo).port}`;

before(async () => {
  orderApi = await listen(async (req, body) => {
    orderRequests.push({ signature: req.headers['x-parley-signature'] as string | undefined, body });
    await new Promise((r) => setTimeout(r, ORDER_TOOL_DELAY_MS));
    return [200, { order: 'A1', status: 'shipped', eta: 'tomorrow' }];
  });
  receiver = await listen(async (req, raw) => {
    const body = JSON.parse(raw) as Record<string, any>;
    webhooks.push({ type: String(body.type), body, signature: req.headers['x-parley-signature'] as string | undefined, raw });
    return [200, {}];
  });
  // Request 0 answers the caller's first turn with a tool call; request 1 sees the tool result.
  llm.knowledge = await startFakeOpenAi([
    { chunks: openAiToolCallChunks([{ id: 'call_kb', name: 'search_knowledge', argumentPieces: ['{"query":', '"breakfast hours"}'] }]) },
    { chunks: openAiTextChunks(['Breakfast is served ', 'from seven to ten.']) },
  ]);
  llm.slow = await startFakeOpenAi([
    { chunks: openAiToolCallChunks([{ id: 'call_order', name: 'lookup_order', argumentPieces: ['{"order":"A1"}'] }]) },
    { chunks: openAiTextChunks(['Your order has shipped.']) },
  ]);
  llm.keypad = await startFakeOpenAi([
    { chunks: openAiToolCallChunks([{ id: 'call_dtmf', name: 'send_dtmf', argumentPieces: ['{"digits":"42"}'] }]) },
    { chunks: openAiTextChunks(['I have entered the code.']) },
  ]);
  const tenant = (kind: keyof typeof NUMBERS, tools: unknown[]) =>
    hotelTenant((t) => ({
      ...t,
      id: `hotel-${kind}`,
      phoneNumbers: [NUMBERS[kind]],
      network: { allowPrivateAddresses: true },
      webhooks: [{ url: `${urlOf(receiver)}/hooks`, secret: WEBHOOK_SECRET }],
      agent: {
        ...t.agent,
        greeting: 'Seaview Hotel.',
        systemPrompt: 'You are the front desk of the Seaview Hotel.',
        llm: [{ provider: 'openai', baseUrl: llm[kind].url, model: 'test-model', apiKey: 'sk-test' }],
        tools: tools as never,
        filler: { afterMs: 1_500, phrases: ['One moment while I check.'] },
        dtmf: { interDigitTimeoutMs: 1_500, terminator: '#', maxDigits: 8 },
      },
    }));
  server = await testServer([
    await tenant('knowledge', [{ type: 'search_knowledge' }]),
    await tenant('slow', [{ type: 'http', name: 'lookup_order', description: 'Looks up an order', url: `${urlOf(orderApi)}/orders`, secret: TOOL_SECRET, parameters: { type: 'object', properties: { order: { type: 'string' } }, required: ['order'] } }]),
    await tenant('keypad', [{ type: 'send_dtmf' }]),
  ]);
  await server.store.documents.create({ tenantId: 'hotel-knowledge', title: 'Breakfast', content: 'Breakfast is served in the garden room from seven to ten every day.', nowMs: Date.now() });
  await server.store.documents.create({ tenantId: 'hotel-knowledge', title: 'Parking', content: 'Guests park free of charge behind the hotel.', nowMs: Date.now() });
});
after(async () => {
  await server.close();
  for (const f of Object.values(llm)) await f.close();
  orderApi.close();
  receiver.close();
});

type Turn = { role: string; text: string };
const agentTurns = (call: Record<string, any>): string[] => (call.turns as Turn[]).filter((t) => t.role === 'agent').map((t) => t.text);

async function until<T>(what: string, get: () => T | undefined): Promise<T> {
  for (let i = 0; i < 100; i++) {
    const v = get();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

test('the model searches the tenant\'s documents and answers from the result; webhooks report the call', { timeout: E2E_TIMEOUT_MS }, async () => {
  const result = await placeSimulatedCall({ baseUrl: server.url, to: NUMBERS.knowledge, steps: [{ say: 'what time is breakfast' }] });
  const call = await getCall(server, result.callSid);
  assert.deepEqual(agentTurns(call), ['Seaview Hotel.', 'Breakfast is served from seven to ten.']);

  const second = llm.knowledge.requests[1]?.body as { messages: { role: string; content: string | null; tool_calls?: unknown[]; tool_call_id?: string }[] };
  const toolMessage = second.messages.find((m) => m.role === 'tool');
  assert.equal(toolMessage?.tool_call_id, 'call_kb');
  assert.match(toolMessage?.content ?? '', /garden room/, 'the breakfast document came back to the model');
  assert.doesNotMatch(toolMessage?.content ?? '', /park/i, 'the parking document did not');
  const asked = second.messages.find((m) => m.role === 'assistant' && m.tool_calls);
  assert.ok(asked, 'the assistant tool call precedes its result in history');
  const toolEvent = (call.events as { type: string; data: Record<string, unknown> }[]).find((e) => e.type === 'tool.called');
  assert.equal(toolEvent?.data.name, 'search_knowledge');
  assert.equal(toolEvent?.data.ok, true);

  const ended = await until('call.ended webhook', () => webhooks.find((w) => w.type === 'call.ended' && w.body.data.call.id === call.id));
  const types = webhooks.filter((w) => w.body.data.call?.id === call.id || w.body.data.callId === call.id).map((w) => w.type);
  assert.deepEqual(types.slice(0, 2), ['call.started', 'tool.called']);
  assert.ok(verifySignature(WEBHOOK_SECRET, ended.signature, ended.raw), 'signed with the tenant webhook secret');
  const transcript = ended.body.data.transcript as Turn[];
  assert.ok(transcript.some((t) => t.role === 'agent' && /seven to ten/.test(t.text)));
  assert.equal(typeof ended.body.data.cost.total, 'number');
  const deliveries = await fetch(`${server.url}/v1/webhook-deliveries?tenantId=hotel-knowledge&callId=${call.id}`, { headers: { authorization: 'Bearer test-admin-key' } });
  const listed = (await deliveries.json()) as { data: { status: string }[] };
  assert.ok(listed.data.length >= 3 && listed.data.every((d) => d.status === 'delivered'), 'every delivery is recorded as delivered');
});

test('a slow HTTP tool gets a filler so the caller never hears dead air, then the answer; the request is signed', { timeout: E2E_TIMEOUT_MS }, async () => {
  const result = await placeSimulatedCall({ baseUrl: server.url, to: NUMBERS.slow, steps: [{ say: 'where is my order' }], quietMs: 4_000 });
  const call = await getCall(server, result.callSid);
  assert.deepEqual(agentTurns(call), ['Seaview Hotel.', 'One moment while I check.', 'Your order has shipped.']);
  assert.ok((call.events as { type: string }[]).some((e) => e.type === 'tool.filler'));
  const req = orderRequests.at(-1);
  assert.ok(req, 'the tenant endpoint was called');
  assert.ok(verifySignature(TOOL_SECRET, req.signature, req.body), 'X-Parley-Signature verifies with the tool secret');
  const sent = JSON.parse(req.body) as { tool: string; arguments: Record<string, unknown>; call: { id: string } };
  assert.deepEqual([sent.tool, sent.arguments, sent.call.id], ['lookup_order', { order: 'A1' }, call.id]);
  const result2 = (llm.slow.requests[1]?.body as { messages: { role: string; content: string }[] }).messages.find((m) => m.role === 'tool');
  assert.match(result2?.content ?? '', /shipped/);
});

test('key presses reach the model as one keypad turn, and the agent can send DTMF tones', { timeout: E2E_TIMEOUT_MS }, async () => {
  const result = await placeSimulatedCall({ baseUrl: server.url, to: NUMBERS.keypad, steps: [{ dtmf: '123#' }] });
  const call = await getCall(server, result.callSid);
  const first = llm.keypad.requests[0]?.body as { messages: { role: string; content: string }[] };
  assert.deepEqual(first.messages.at(-1), { role: 'user', content: '[keypad] 123' });
  assert.deepEqual(
    (call.turns as Turn[]).filter((t) => t.role === 'user').map((t) => t.text),
    ['[keypad] 123'],
  );
  assert.match(detectDtmf(result.heard, 8000), /42/, 'the caller heard the tones for 4 and 2');
  assert.deepEqual(agentTurns(call).at(-1), 'I have entered the code.');
  assert.ok((call.events as { type: string; data: Record<string, unknown> }[]).some((e) => e.type === 'dtmf.sent' && e.data.digits === '42'));
});
