import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { openAiTextChunks, startFakeOpenAi, type FakeScript, type FakeServer, type RecordedRequest } from '../../test/fakes/openai-server.js';
import { OpenAiLlm } from '../providers/llm/openai.js';
import { agentSchema, type AgentConfig } from '../tenants/schema.js';
import { analyzeCall, extractJsonObject, validateExtraction, type TranscriptLine } from './analysis.js';

const servers: FakeServer[] = [];
after(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

const SCHEMA = {
  type: 'object',
  properties: {
    name: { type: 'string' },
    nights: { type: 'integer' },
    checkIn: { type: 'string' },
  },
  required: ['name'],
};

const transcript: TranscriptLine[] = [
  { role: 'agent', text: 'Seaview Hotel, how can I help?' },
  { role: 'user', text: 'Hi, this is Dana Reyes, I want a room for two nights from Friday.' },
  { role: 'agent', text: 'Booked: two nights from Friday.' },
  { role: 'user', text: '   ' },
];

const SUMMARY = 'Dana Reyes called to book a room. The agent booked two nights from Friday.';

function agent(over: Record<string, unknown> = {}): AgentConfig {
  return agentSchema.parse({ greeting: 'Hello', llm: { provider: 'openai', model: 'gpt-test' }, analysis: { extractionSchema: SCHEMA }, ...over });
}

const isExtraction = (r: RecordedRequest): boolean => JSON.stringify(r.body).includes('JSON Schema');

/** Answers the summary prompt with SUMMARY and the extraction prompt with `extraction`. */
async function fakeModel(extraction: string, o: { summary?: FakeScript } = {}): Promise<FakeServer> {
  const s = await startFakeOpenAi((req) =>
    isExtraction(req)
      ? { chunks: openAiTextChunks([extraction.slice(0, 7), extraction.slice(7)], { usage: { promptTokens: 300, completionTokens: 40 } }) }
      : (o.summary ?? { chunks: openAiTextChunks([SUMMARY.slice(0, 10), SUMMARY.slice(10)], { usage: { promptTokens: 200, completionTokens: 25 } }) }),
  );
  servers.push(s);
  return s;
}

const llm = (s: FakeServer) => new OpenAiLlm({ baseUrl: s.url, model: 'gpt-test', apiKey: 'sk-test' });
const signal = () => new AbortController().signal;

describe('analyzeCall', () => {
  test('summarises the call and extracts schema-valid JSON from a fenced reply', async () => {
    const s = await fakeModel('Here you go:\n```json\n{"name": "Dana Reyes", "nights": 2, "checkIn": "Friday"}\n```');
    const r = await analyzeCall({ transcript, agent: agent(), llm: llm(s), signal: signal() });

    assert.deepEqual(r.errors, []);
    assert.equal(r.summary, SUMMARY);
    assert.deepEqual(r.extraction, { name: 'Dana Reyes', nights: 2, checkIn: 'Friday' });
    assert.deepEqual(r.usage, { inputTokens: 500, outputTokens: 65, estimated: false });

    assert.equal(s.requests.length, 2);
    const ex = s.requests.find(isExtraction)!.body as { messages: { role: string; content: string }[] };
    assert.match(ex.messages[0]!.content, /"required": \[\s*"name"\s*\]/);
    // The transcript, labelled, without blank turns.
    assert.equal(
      ex.messages[1]!.content,
      'Transcript:\nAgent: Seaview Hotel, how can I help?\nCaller: Hi, this is Dana Reyes, I want a room for two nights from Friday.\nAgent: Booked: two nights from Friday.',
    );
    const sum = s.requests.find((q) => !isExtraction(q))!.body as { messages: { content: string }[]; tools?: unknown };
    assert.match(sum.messages[0]!.content, /2 to 3 sentences/);
    assert.equal(sum.tools, undefined);
  });

  test('is skipped without a request for an agent whose chain is only the flow provider', async () => {
    const s = await fakeModel('{}');
    const flowOnly = agentSchema.parse({ greeting: 'Hi', llm: { provider: 'flow' }, analysis: { extractionSchema: SCHEMA } });
    const r = await analyzeCall({ transcript, agent: flowOnly, llm: llm(s), signal: signal() });
    assert.equal(r.skipped, 'no_llm');
    assert.equal(r.summary, undefined);
    assert.equal(r.extraction, undefined);
    assert.equal(s.requests.length, 0);
  });

  test('asks only for a summary when the agent has no extraction schema', async () => {
    const s = await fakeModel('{}');
    const r = await analyzeCall({ transcript, agent: agent({ analysis: {} }), llm: llm(s), signal: signal() });
    assert.equal(r.summary, SUMMARY);
    assert.equal(r.extraction, undefined);
    assert.equal(s.requests.length, 1);
  });

  test('omits an extraction that is not JSON, reports why, and keeps the summary', async () => {
    const s = await fakeModel('Sorry, I cannot help with that.');
    const r = await analyzeCall({ transcript, agent: agent(), llm: llm(s), signal: signal() });
    assert.equal(r.summary, SUMMARY);
    assert.equal(r.extraction, undefined);
    assert.deepEqual(r.errors, ['extraction: the model did not answer with a JSON object']);
  });

  test('omits an extraction that does not match the schema', async () => {
    const s = await fakeModel('{"nights": "two"}');
    const r = await analyzeCall({ transcript, agent: agent(), llm: llm(s), signal: signal() });
    assert.equal(r.extraction, undefined);
    assert.equal(r.errors.length, 1);
    assert.match(r.errors[0]!, /^extraction: the JSON does not match the schema \(.*name.*nights/);
  });

  test('gives up on a model slower than the deadline, reporting it', async () => {
    const s = await fakeModel('{"name": "Dana"}', { summary: { stallBeforeFirstByte: true } });
    const r = await analyzeCall({ transcript, agent: agent(), llm: llm(s), signal: signal(), timeoutMs: 200 });
    assert.equal(r.summary, undefined);
    assert.deepEqual(r.extraction, { name: 'Dana' });
    assert.deepEqual(r.errors, ['summary: no complete answer within 200 ms']);
  });

  test('reports a failing model instead of throwing', async () => {
    const s = await startFakeOpenAi({ status: 500 });
    servers.push(s);
    const r = await analyzeCall({ transcript, agent: agent(), llm: llm(s), signal: signal() });
    assert.equal(r.summary, undefined);
    assert.equal(r.errors.length, 2);
    assert.ok(r.errors.every((e) => /HTTP 500/.test(e)));
  });

  test('estimates the tokens when the model reports none', async () => {
    const s = await startFakeOpenAi({ chunks: openAiTextChunks(['Short.']) });
    servers.push(s);
    const r = await analyzeCall({ transcript, agent: agent({ analysis: {} }), llm: llm(s), signal: signal() });
    assert.equal(r.usage.estimated, true);
    assert.ok(r.usage.inputTokens > 0);
    assert.equal(r.usage.outputTokens, 2);
  });

  test('is skipped when analysis is turned off or nothing was said', async () => {
    const s = await fakeModel('{}');
    assert.equal((await analyzeCall({ transcript, agent: agent({ analysis: { summary: false } }), llm: llm(s), signal: signal() })).skipped, 'disabled');
    assert.equal((await analyzeCall({ transcript: [{ role: 'agent', text: ' ' }], agent: agent(), llm: llm(s), signal: signal() })).skipped, 'empty_transcript');
    assert.equal(s.requests.length, 0);
  });
});

describe('extraction parsing', () => {
  test('finds the object in a fence, in prose, or bare', () => {
    assert.deepEqual(extractJsonObject('```json\n{"a": 1}\n```'), { a: 1 });
    assert.deepEqual(extractJsonObject('```\n{"a": {"b": 2}}\n```\nHope this helps!'), { a: { b: 2 } });
    assert.deepEqual(extractJsonObject('The data is {"a": 1}. Done.'), { a: 1 });
    assert.deepEqual(extractJsonObject('{"a": "}"}'), { a: '}' });
    assert.equal(extractJsonObject('[1, 2]'), undefined);
    assert.equal(extractJsonObject('{"a": '), undefined);
    assert.equal(extractJsonObject('nothing'), undefined);
  });

  test('reads null for a non-nullable property as not mentioned', () => {
    assert.deepEqual(validateExtraction('{"name": "Dana", "nights": null}', SCHEMA), { ok: true, value: { name: 'Dana' } });
    const nullable = { type: 'object', properties: { n: { type: ['integer', 'null'] } } };
    assert.deepEqual(validateExtraction('{"n": null}', nullable), { ok: true, value: { n: null } });
  });

  test('reports a schema it cannot use', () => {
    const r = validateExtraction('{"a": 1}', { type: 'object', properties: { a: { $ref: '#/definitions/missing' } } });
    assert.equal(r.ok, false);
    assert.match(r.ok ? '' : r.error, /extractionSchema cannot be used/);
  });
});
