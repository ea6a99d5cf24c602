import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import {
  anthropicErrorEvent,
  anthropicEvent,
  anthropicStream,
  anthropicTextStream,
  startFakeAnthropic,
  type FakeScripts,
  type FakeServer,
} from '../../../test/fakes/anthropic-server.js';
import { ProviderError, type ChatRequest, type LlmDelta } from '../types.js';
import {
  AnthropicLlm,
  anthropicLlmOptionsSchema,
  toAnthropicMessages,
  type AnthropicLlmOptions,
} from './anthropic.js';

const API_KEY = 'sk-ant-api03-SECRET-0123456789abcdef';
const hello: ChatRequest = { messages: [{ role: 'user', content: 'hi' }] };
const servers: FakeServer[] = [];
after(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

async function fake(script: FakeScripts): Promise<FakeServer> {
  const s = await startFakeAnthropic(script);
  servers.push(s);
  return s;
}

function llm(server: { url: string }, extra: Partial<AnthropicLlmOptions> = {}): AnthropicLlm {
  return new AnthropicLlm({ apiKey: API_KEY, baseUrl: server.url, model: 'claude-test', ...extra });
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
    assert.equal(err.provider, 'anthropic');
    assert.ok(!err.message.includes(API_KEY), `key leaked: ${err.message}`);
    assert.ok(!err.message.includes('SECRET'), `key leaked: ${err.message}`);
    return err;
  }
  assert.fail('expected a ProviderError');
}

const signal = (): AbortSignal => new AbortController().signal;

describe('AnthropicLlm', () => {
  it('yields streamed text as separate deltas', async () => {
    const s = await fake({ chunks: anthropicTextStream(['Hel', 'lo', ' there'], { usage: { inputTokens: 31, outputTokens: 4 } }) });
    assert.deepEqual(await collect(llm(s).complete(hello, { signal: signal() })), [
      { kind: 'text', text: 'Hel' },
      { kind: 'text', text: 'lo' },
      { kind: 'text', text: ' there' },
      { kind: 'usage', inputTokens: 31, outputTokens: 4 },
    ]);
  });

  it('assembles a tool_use whose input streams in many pieces, after the text', async () => {
    const s = await fake({
      chunks: anthropicStream([
        { text: ['Let me book that.'] },
        { toolUse: { id: 'toolu_01', name: 'book_room', jsonPieces: ['', '{"da', 'te": "2025-', '01-02", "nig', 'hts": 2}'] } },
        { toolUse: { id: 'toolu_02', name: 'end_call', jsonPieces: [] } },
      ]),
    });
    assert.deepEqual(await collect(llm(s).complete(hello, { signal: signal() })), [
      { kind: 'text', text: 'Let me book that.' },
      { kind: 'tool_call', call: { id: 'toolu_01', name: 'book_room', arguments: { date: '2025-01-02', nights: 2 } } },
      { kind: 'tool_call', call: { id: 'toolu_02', name: 'end_call', arguments: {} } },
      { kind: 'usage', inputTokens: 10, outputTokens: 15 },
    ]);
  });

  it('counts cached prompt tokens as input tokens', async () => {
    const usage = { inputTokens: 5, outputTokens: 3, cacheCreationInputTokens: 200, cacheReadInputTokens: 1000 };
    const s = await fake({ chunks: anthropicTextStream(['x'], { usage }) });
    const deltas = await collect(llm(s).complete(hello, { signal: signal() }));
    assert.deepEqual(deltas.at(-1), { kind: 'usage', inputTokens: 1205, outputTokens: 3 });
  });

  it('takes the cumulative counts of the last message_delta, input included when it is repeated there', async () => {
    const [start, ...rest] = anthropicTextStream(['x']);
    const stop = rest.pop()!;
    const s = await fake({
      chunks: [
        start!,
        ...rest,
        anthropicEvent({ type: 'message_delta', delta: { stop_reason: 'end_turn' }, usage: { input_tokens: 12, output_tokens: 40 } }),
        stop,
      ],
    });
    const deltas = await collect(llm(s).complete(hello, { signal: signal() }));
    assert.deepEqual(deltas.at(-1), { kind: 'usage', inputTokens: 12, outputTokens: 40 });
  });

  it('yields no usage delta when the stream reports no usage', async () => {
    const s = await fake({
      chunks: [
        anthropicEvent({ type: 'message_start', message: { id: 'm', type: 'message', role: 'assistant', content: [] } }),
        anthropicEvent({ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }),
        anthropicEvent({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'plain' } }),
        anthropicEvent({ type: 'content_block_stop', index: 0 }),
        anthropicEvent({ type: 'message_stop' }),
      ],
    });
    assert.deepEqual(await collect(llm(s).complete(hello, { signal: signal() })), [{ kind: 'text', text: 'plain' }]);
  });

  it('fails non-retryably when tool input is not JSON', async () => {
    const s = await fake({ chunks: anthropicStream([{ toolUse: { id: 't', name: 'f', jsonPieces: ['{"x":'] } }]) });
    const err = await failure(collect(llm(s).complete(hello, { signal: signal() })));
    assert.equal(err.retryable, false);
  });

  it('sends headers, system prompt, alternating history with tool_use/tool_result blocks, and tools', async () => {
    const s = await fake({ chunks: anthropicTextStream(['ok']) });
    await collect(
      llm(s, { maxTokens: 300, temperature: 0.2 }).complete(
        {
          messages: [
            { role: 'system', content: 'You are a receptionist.' },
            { role: 'system', content: 'Be brief.' },
            { role: 'assistant', content: 'Hotel Parley, how can I help?' },
            { role: 'user', content: 'Two rooms please' },
            {
              role: 'assistant',
              content: 'Booking.',
              toolCalls: [
                { id: 'toolu_a', name: 'book_room', arguments: { n: 1 } },
                { id: 'toolu_b', name: 'book_room', arguments: { n: 2 } },
              ],
            },
            { role: 'tool', toolCallId: 'toolu_a', content: 'booked 1' },
            { role: 'tool', toolCallId: 'toolu_b', content: 'booked 2' },
            { role: 'user', content: 'Thanks' },
            { role: 'user', content: 'Bye' },
          ],
          tools: [{ name: 'book_room', description: 'Books', parameters: { type: 'object', properties: {} } }],
        },
        { signal: signal() },
      ),
    );
    const req = s.requests[0]!;
    assert.equal(req.path, '/v1/messages');
    assert.equal(req.headers['x-api-key'], API_KEY);
    assert.equal(req.headers['anthropic-version'], '2023-06-01');
    assert.equal(req.headers['content-type'], 'application/json');
    assert.equal(req.headers.authorization, undefined);
    assert.deepEqual(req.body, {
      model: 'claude-test',
      max_tokens: 300,
      stream: true,
      temperature: 0.2,
      system: 'You are a receptionist.\n\nBe brief.',
      messages: [
        { role: 'assistant', content: [{ type: 'text', text: 'Hotel Parley, how can I help?' }] },
        { role: 'user', content: [{ type: 'text', text: 'Two rooms please' }] },
        {
          role: 'assistant',
          content: [
            { type: 'text', text: 'Booking.' },
            { type: 'tool_use', id: 'toolu_a', name: 'book_room', input: { n: 1 } },
            { type: 'tool_use', id: 'toolu_b', name: 'book_room', input: { n: 2 } },
          ],
        },
        {
          role: 'user',
          content: [
            { type: 'tool_result', tool_use_id: 'toolu_a', content: 'booked 1' },
            { type: 'tool_result', tool_use_id: 'toolu_b', content: 'booked 2' },
            { type: 'text', text: 'Thanks' },
            { type: 'text', text: 'Bye' },
          ],
        },
      ],
      tools: [{ name: 'book_room', description: 'Books', input_schema: { type: 'object', properties: {} } }],
    });
  });

  it('defaults max_tokens and omits system when there is none', async () => {
    const s = await fake({ chunks: anthropicTextStream(['ok']) });
    await collect(llm(s).complete(hello, { signal: signal() }));
    const body = s.requests[0]!.body as Record<string, unknown>;
    assert.equal(body.max_tokens, 1024);
    assert.equal('system' in body, false);
    assert.equal('tools' in body, false);
  });

  it('puts tool results before text when they share a user message, and drops empty text', () => {
    const { messages } = toAnthropicMessages([
      { role: 'assistant', content: '', toolCalls: [{ id: 't1', name: 'f', arguments: {} }] },
      { role: 'user', content: 'also this' },
      { role: 'tool', toolCallId: 't1', content: 'done' },
    ]);
    assert.deepEqual(messages, [
      { role: 'assistant', content: [{ type: 'tool_use', id: 't1', name: 'f', input: {} }] },
      {
        role: 'user',
        content: [
          { type: 'tool_result', tool_use_id: 't1', content: 'done' },
          { type: 'text', text: 'also this' },
        ],
      },
    ]);
  });

  for (const [status, retryable] of [
    [500, true],
    [529, true],
    [429, true],
    [400, false],
    [401, false],
  ] as const) {
    it(`turns HTTP ${status} into a ${retryable ? '' : 'non-'}retryable error with the status`, async () => {
      const s = await fake({ status });
      const err = await failure(collect(llm(s).complete(hello, { signal: signal() })));
      assert.equal(err.retryable, retryable);
      assert.match(err.message, new RegExp(`HTTP ${status}: .*fake error ${status}`));
    });
  }

  it('redacts the API key when the server echoes it in an error body', async () => {
    const s = await fake({ status: 401, errorBody: `invalid x-api-key ${API_KEY}` });
    const err = await failure(collect(llm(s).complete(hello, { signal: signal() })));
    assert.match(err.message, /invalid x-api-key \[redacted\]/);
  });

  it('turns an in-stream overloaded_error into a retryable error, after the text so far', async () => {
    const chunks = anthropicTextStream(['partial']).slice(0, 4);
    const s = await fake({ chunks: [...chunks, anthropicErrorEvent('overloaded_error', 'Overloaded')] });
    const got: LlmDelta[] = [];
    const err = await failure(
      (async () => {
        for await (const d of llm(s).complete(hello, { signal: signal() })) got.push(d);
      })(),
    );
    assert.equal(err.retryable, true);
    assert.match(err.message, /overloaded_error: Overloaded/);
    assert.deepEqual(got, [{ kind: 'text', text: 'partial' }]);
  });

  it('turns an in-stream invalid_request_error into a non-retryable error', async () => {
    const s = await fake({ chunks: [anthropicErrorEvent('invalid_request_error')] });
    const err = await failure(collect(llm(s).complete(hello, { signal: signal() })));
    assert.equal(err.retryable, false);
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
  });

  it('reports a connection dropped mid-stream as retryable', async () => {
    const s = await fake({ chunks: anthropicTextStream(['one', 'two']), dropAfterChunks: 4 });
    const got: LlmDelta[] = [];
    const err = await failure(
      (async () => {
        for await (const d of llm(s).complete(hello, { signal: signal() })) got.push(d);
      })(),
    );
    assert.equal(err.retryable, true);
    assert.deepEqual(got, [{ kind: 'text', text: 'one' }]);
  });

  it('reports a stream that closes before message_stop as retryable', async () => {
    const s = await fake({ chunks: anthropicTextStream(['cut']).slice(0, -1) });
    const err = await failure(collect(llm(s).complete(hello, { signal: signal() })));
    assert.equal(err.retryable, true);
    assert.match(err.message, /stream ended early/);
  });

  it('fails retryably when the server stalls before the first byte', async () => {
    const s = await fake({ stallBeforeFirstByte: true });
    const err = await failure(collect(llm(s, { timeoutMs: 100 }).complete(hello, { signal: signal() })));
    assert.equal(err.retryable, true);
    assert.match(err.message, /timed out/);
  });

  it('ignores pings and unknown events', async () => {
    const [start, ...rest] = anthropicTextStream(['a']);
    const s = await fake({
      chunks: [start!, anthropicEvent({ type: 'ping' }), { raw: ': comment\n\n' }, anthropicEvent({ type: 'future_thing' }), ...rest],
    });
    assert.deepEqual(await collect(llm(s).complete(hello, { signal: signal() })), [
      { kind: 'text', text: 'a' },
      { kind: 'usage', inputTokens: 10, outputTokens: 15 },
    ]);
  });

  it('stops without error when aborted mid-stream', async () => {
    const s = await fake({ chunks: anthropicTextStream(['first', 'second']), stallAfterChunks: 4 });
    const ac = new AbortController();
    const got: LlmDelta[] = [];
    for await (const d of llm(s).complete(hello, { signal: ac.signal })) {
      got.push(d);
      ac.abort();
    }
    assert.deepEqual(got, [{ kind: 'text', text: 'first' }]);
  });

  it('validates tenant options strictly', () => {
    assert.equal(anthropicLlmOptionsSchema.safeParse({ apiKey: 'k', model: 'claude' }).success, true);
    assert.equal(anthropicLlmOptionsSchema.safeParse({ model: 'claude' }).success, false);
    assert.equal(anthropicLlmOptionsSchema.safeParse({ apiKey: 'k', model: 'claude', headers: {} }).success, false);
  });
});
