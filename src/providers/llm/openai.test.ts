import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import {
  openAiChunk,
  openAiTextChunks,
  openAiUsageChunk,
  openAiToolCallChunks,
  startFakeOpenAi,
  type FakeScripts,
  type FakeServer,
} from '../../../test/fakes/openai-server.js';
import { ProviderError, type ChatRequest, type LlmDelta } from '../types.js';
import { OpenAiLlm, openAiLlmOptionsSchema, type OpenAiLlmOptions } from './openai.js';

const API_KEY = 'sk-test-SECRET-0123456789abcdef';
const hello: ChatRequest = { messages: [{ role: 'user', content: 'hi' }] };
const servers: FakeServer[] = [];
after(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

async function fake(script: FakeScripts): Promise<FakeServer> {
  const s = await startFakeOpenAi(script);
  servers.push(s);
  return s;
}

function llm(server: { url: string }, extra: Partial<OpenAiLlmOptions> = {}): OpenAiLlm {
  return new OpenAiLlm({ apiKey: API_KEY, baseUrl: `${server.url}/v1`, model: 'gpt-test', ...extra });
}

async function collect(it: AsyncIterable<LlmDelta>): Promise<LlmDelta[]> {
  const out: LlmDelta[] = [];
  for await (const d of it) out.push(d);
  return out;
}

async function failure(p: Promise<unknown>): Promise<ProviderError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof ProviderError, `expected ProviderError, got ${String(err)}`);
    assert.equal(err.provider, 'openai');
    assert.ok(!err.message.includes(API_KEY), `key leaked: ${err.message}`);
    assert.ok(!err.message.includes('SECRET'), `key leaked: ${err.message}`);
    return err;
  }
  assert.fail('expected a ProviderError');
}

const signal = (): AbortSignal => new AbortController().signal;

describe('OpenAiLlm', () => {
  it('yields streamed text as separate deltas', async () => {
    const s = await fake({ chunks: openAiTextChunks(['Hel', 'lo', ' there']) });
    const deltas = await collect(llm(s).complete(hello, { signal: signal() }));
    assert.deepEqual(deltas, [
      { kind: 'text', text: 'Hel' },
      { kind: 'text', text: 'lo' },
      { kind: 'text', text: ' there' },
    ]);
  });

  it('assembles tool calls split across many chunks, in order', async () => {
    const s = await fake({
      chunks: openAiToolCallChunks([
        { id: 'call_a', name: 'book_room', argumentPieces: ['{"da', 'te": "2025-', '01-02", "n', 'ights": 2}'] },
        { id: 'call_b', name: 'end_call', argumentPieces: ['{', '}'] },
      ]),
    });
    const deltas = await collect(llm(s).complete(hello, { signal: signal() }));
    assert.deepEqual(deltas, [
      { kind: 'tool_call', call: { id: 'call_a', name: 'book_room', arguments: { date: '2025-01-02', nights: 2 } } },
      { kind: 'tool_call', call: { id: 'call_b', name: 'end_call', arguments: {} } },
    ]);
  });

  it('emits pending tool calls at [DONE] when no finish_reason came', async () => {
    const chunks = openAiToolCallChunks([{ id: 'c1', name: 'f', argumentPieces: ['{"x":1}'] }]).slice(0, -1);
    const s = await fake({ chunks });
    const deltas = await collect(llm(s).complete(hello, { signal: signal() }));
    assert.deepEqual(deltas, [{ kind: 'tool_call', call: { id: 'c1', name: 'f', arguments: { x: 1 } } }]);
  });

  it('fails non-retryably when tool arguments are not JSON', async () => {
    const s = await fake({ chunks: openAiToolCallChunks([{ id: 'c1', name: 'f', argumentPieces: ['{"x":'] }]) });
    const err = await failure(collect(llm(s).complete(hello, { signal: signal() })));
    assert.equal(err.retryable, false);
    assert.match(err.message, /not valid JSON/);
  });

  it('maps system prompt, history with tool calls and results, tools and options into the request', async () => {
    const s = await fake({ chunks: openAiTextChunks(['ok']) });
    await collect(
      llm(s, { temperature: 0.3, maxTokens: 99 }).complete(
        {
          messages: [
            { role: 'system', content: 'You are a hotel receptionist.' },
            { role: 'user', content: 'Book me a room' },
            {
              role: 'assistant',
              content: '',
              toolCalls: [{ id: 'call_1', name: 'book_room', arguments: { nights: 2 } }],
            },
            { role: 'tool', toolCallId: 'call_1', content: '{"ok":true}' },
            { role: 'assistant', content: 'Booked.' },
            { role: 'user', content: 'Thanks' },
          ],
          tools: [
            {
              name: 'book_room',
              description: 'Books a room',
              parameters: { type: 'object', properties: { nights: { type: 'integer' } }, required: ['nights'] },
            },
          ],
        },
        { signal: signal() },
      ),
    );
    assert.equal(s.requests.length, 1);
    const req = s.requests[0]!;
    assert.equal(req.method, 'POST');
    assert.equal(req.path, '/v1/chat/completions');
    assert.equal(req.headers.authorization, `Bearer ${API_KEY}`);
    assert.equal(req.headers['content-type'], 'application/json');
    assert.deepEqual(req.body, {
      model: 'gpt-test',
      stream: true,
      stream_options: { include_usage: true },
      temperature: 0.3,
      max_tokens: 99,
      messages: [
        { role: 'system', content: 'You are a hotel receptionist.' },
        { role: 'user', content: 'Book me a room' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'book_room', arguments: '{"nights":2}' } }],
        },
        { role: 'tool', tool_call_id: 'call_1', content: '{"ok":true}' },
        { role: 'assistant', content: 'Booked.' },
        { role: 'user', content: 'Thanks' },
      ],
      tools: [
        {
          type: 'function',
          function: {
            name: 'book_room',
            description: 'Books a room',
            parameters: { type: 'object', properties: { nights: { type: 'integer' } }, required: ['nights'] },
          },
        },
      ],
    });
  });

  it('yields one usage delta after the text when the server reports token usage', async () => {
    const s = await fake({ chunks: openAiTextChunks(['Hi', '!'], { usage: { promptTokens: 42, completionTokens: 7 } }) });
    assert.deepEqual(await collect(llm(s).complete(hello, { signal: signal() })), [
      { kind: 'text', text: 'Hi' },
      { kind: 'text', text: '!' },
      { kind: 'usage', inputTokens: 42, outputTokens: 7 },
    ]);
  });

  it('yields the usage delta after the tool calls it follows', async () => {
    const chunks = [...openAiToolCallChunks([{ id: 'c1', name: 'f', argumentPieces: ['{}'] }]), openAiUsageChunk({ promptTokens: 100, completionTokens: 12 })];
    const s = await fake({ chunks });
    assert.deepEqual(await collect(llm(s).complete(hello, { signal: signal() })), [
      { kind: 'tool_call', call: { id: 'c1', name: 'f', arguments: {} } },
      { kind: 'usage', inputTokens: 100, outputTokens: 12 },
    ]);
  });

  it('reads usage a server puts on its last content chunk, ignoring usage: null on the others', async () => {
    const base = { id: 'x', object: 'chat.completion.chunk', created: 1, model: 'llama' };
    const s = await fake({
      chunks: [
        { json: { ...base, choices: [{ index: 0, delta: { content: 'ok' }, finish_reason: null }], usage: null } },
        { json: { ...base, choices: [{ index: 0, delta: {}, finish_reason: 'stop' }], usage: { prompt_tokens: 9, completion_tokens: 1 } } },
      ],
      done: false,
    });
    assert.deepEqual(await collect(llm(s).complete(hello, { signal: signal() })), [
      { kind: 'text', text: 'ok' },
      { kind: 'usage', inputTokens: 9, outputTokens: 1 },
    ]);
  });

  it('omits stream_options when includeUsage is false', async () => {
    const s = await fake({ chunks: openAiTextChunks(['ok']) });
    await collect(llm(s, { includeUsage: false }).complete(hello, { signal: signal() }));
    assert.equal('stream_options' in (s.requests[0]!.body as Record<string, unknown>), false);
  });

  it('sends no Authorization header without an API key (local servers)', async () => {
    const s = await fake({ chunks: openAiTextChunks(['hi']) });
    const keyless = new OpenAiLlm({ baseUrl: s.url, model: 'llama', headers: { 'x-extra': '1' } });
    await collect(keyless.complete(hello, { signal: signal() }));
    assert.equal(s.requests[0]!.path, '/chat/completions');
    assert.equal(s.requests[0]!.headers.authorization, undefined);
    assert.equal(s.requests[0]!.headers['x-extra'], '1');
  });

  for (const [status, retryable] of [
    [500, true],
    [503, true],
    [429, true],
    [408, true],
    [400, false],
    [401, false],
    [404, false],
  ] as const) {
    it(`turns HTTP ${status} into a ${retryable ? '' : 'non-'}retryable error with the status`, async () => {
      const s = await fake({ status });
      const err = await failure(collect(llm(s).complete(hello, { signal: signal() })));
      assert.equal(err.retryable, retryable);
      assert.match(err.message, new RegExp(`HTTP ${status}: .*fake error ${status}`));
    });
  }

  it('redacts the API key when the server echoes it in an error body', async () => {
    const s = await fake({ status: 401, errorBody: { error: { message: `Incorrect API key provided: ${API_KEY}` } } });
    const err = await failure(collect(llm(s).complete(hello, { signal: signal() })));
    assert.equal(err.retryable, false);
    assert.match(err.message, /Incorrect API key provided: \[redacted\]/);
  });

  it('reports connection refused as retryable', async () => {
    const port = await new Promise<number>((resolve) => {
      const srv = createServer().listen(0, '127.0.0.1', () => {
        const addr = srv.address();
        srv.close(() => resolve(typeof addr === 'object' && addr !== null ? addr.port : 0));
      });
    });
    const err = await failure(collect(llm({ url: `http://127.0.0.1:${port}` }).complete(hello, { signal: signal() })));
    assert.equal(err.retryable, true);
    assert.match(err.message, /ECONNREFUSED/);
  });

  it('reports a connection dropped mid-stream as retryable, after the text already streamed', async () => {
    const s = await fake({ chunks: openAiTextChunks(['one', 'two', 'three']), dropAfterChunks: 2 });
    const got: LlmDelta[] = [];
    const err = await failure(
      (async () => {
        for await (const d of llm(s).complete(hello, { signal: signal() })) got.push(d);
      })(),
    );
    assert.equal(err.retryable, true);
    assert.deepEqual(got, [{ kind: 'text', text: 'one' }]);
  });

  it('reports a stream that ends without [DONE] or finish_reason as retryable', async () => {
    const s = await fake({ chunks: [openAiChunk({ content: 'partial' })], done: false });
    const err = await failure(collect(llm(s).complete(hello, { signal: signal() })));
    assert.equal(err.retryable, true);
    assert.match(err.message, /stream ended early/);
  });

  it('accepts a stream that has a finish_reason but no [DONE]', async () => {
    const s = await fake({ chunks: openAiTextChunks(['fine']), done: false });
    assert.deepEqual(await collect(llm(s).complete(hello, { signal: signal() })), [{ kind: 'text', text: 'fine' }]);
  });

  it('fails retryably when the server stalls before the first byte', async () => {
    const s = await fake({ stallBeforeFirstByte: true });
    const err = await failure(collect(llm(s, { timeoutMs: 100 }).complete(hello, { signal: signal() })));
    assert.equal(err.retryable, true);
    assert.match(err.message, /timed out/);
  });

  it('fails retryably when the stream stalls mid-way', async () => {
    const s = await fake({ chunks: openAiTextChunks(['a', 'b']), stallAfterChunks: 2 });
    const got: LlmDelta[] = [];
    const err = await failure(
      (async () => {
        for await (const d of llm(s, { timeoutMs: 100 }).complete(hello, { signal: signal() })) got.push(d);
      })(),
    );
    assert.equal(err.retryable, true);
    assert.match(err.message, /timed out/);
    assert.deepEqual(got, [{ kind: 'text', text: 'a' }]);
  });

  it('stops without error when aborted mid-stream', async () => {
    const s = await fake({ chunks: openAiTextChunks(['first', 'second']), stallAfterChunks: 2 });
    const ac = new AbortController();
    const got: LlmDelta[] = [];
    for await (const d of llm(s).complete(hello, { signal: ac.signal })) {
      got.push(d);
      ac.abort();
    }
    assert.deepEqual(got, [{ kind: 'text', text: 'first' }]);
  });

  it('stops without error when aborted while waiting for the response', async () => {
    const s = await fake({ stallBeforeFirstByte: true });
    const ac = new AbortController();
    const run = collect(llm(s).complete(hello, { signal: ac.signal }));
    setImmediate(() => ac.abort());
    assert.deepEqual(await run, []);
  });

  it('sends nothing when already aborted', async () => {
    const s = await fake({ chunks: openAiTextChunks(['x']) });
    assert.deepEqual(await collect(llm(s).complete(hello, { signal: AbortSignal.abort() })), []);
    assert.equal(s.requests.length, 0);
  });

  it('validates tenant options strictly', () => {
    assert.equal(openAiLlmOptionsSchema.safeParse({ model: 'm', baseUrl: 'http://localhost:8080/v1' }).success, true);
    assert.equal(openAiLlmOptionsSchema.safeParse({ model: 'm', bogus: 1 }).success, false);
    assert.equal(openAiLlmOptionsSchema.safeParse({ model: '' }).success, false);
    assert.equal(openAiLlmOptionsSchema.safeParse({ model: 'm', baseUrl: 'file:///etc' }).success, false);
  });
});
