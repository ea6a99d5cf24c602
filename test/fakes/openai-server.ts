// Fake OpenAI-compatible chat-completions server: `data: {chunk}\n\n` events, then `data: [DONE]\n\n`.
import { startFakeSseServer, type FakeChunk, type FakeScripts, type FakeServer } from './sse-server.js';

export type { FakeChunk, FakeScript, FakeScripts, FakeServer, RecordedRequest } from './sse-server.js';

/**
 * Starts a fake OpenAI server on 127.0.0.1. It answers any path (the client POSTs
 * `/chat/completions` under its base URL; point `baseUrl` at `url`). Error statuses get OpenAI's
 * `{ error: { message, type, code } }` body unless the script sets `errorBody`.
 */
export function startFakeOpenAi(script: FakeScripts): Promise<FakeServer> {
  return startFakeSseServer(script, {
    doneMarker: 'data: [DONE]\n\n',
    errorBody: (status) => ({
      error: { message: `fake error ${status}`, type: status === 429 ? 'rate_limit_exceeded' : 'server_error', code: null },
    }),
  });
}

const base = { id: 'chatcmpl-fake', object: 'chat.completion.chunk', created: 1_700_000_000, model: 'fake-model' };

/** One `chat.completion.chunk` with the given delta and finish_reason. */
export function openAiChunk(delta: Record<string, unknown>, finishReason: string | null = null, delayMs?: number): FakeChunk {
  const json = { ...base, choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }] };
  return delayMs === undefined ? { json } : { json, delayMs };
}

/** Token counts of a reply, as `stream_options.include_usage` reports them. */
export interface FakeUsage {
  readonly promptTokens: number;
  readonly completionTokens: number;
}

/**
 * The extra chunk OpenAI streams just before `[DONE]` when the request asked for
 * `stream_options: { include_usage: true }`: empty `choices` and the whole request's `usage`.
 */
export function openAiUsageChunk(u: FakeUsage): FakeChunk {
  return {
    json: {
      ...base,
      choices: [],
      usage: { prompt_tokens: u.promptTokens, completion_tokens: u.completionTokens, total_tokens: u.promptTokens + u.completionTokens },
    },
  };
}

/**
 * A streamed text reply: a role chunk, one chunk per piece, then `finish_reason: "stop"`; with
 * `usage`, the usage chunk follows (as OpenAI sends it when asked to).
 */
export function openAiTextChunks(pieces: readonly string[], o: { usage?: FakeUsage } = {}): FakeChunk[] {
  return [
    openAiChunk({ role: 'assistant', content: '' }),
    ...pieces.map((p) => openAiChunk({ content: p })),
    openAiChunk({}, 'stop'),
    ...(o.usage === undefined ? [] : [openAiUsageChunk(o.usage)]),
  ];
}

/**
 * A streamed tool call the way OpenAI sends it: first fragment with id, type and name and empty
 * arguments, then the arguments JSON in `argumentPieces`, then `finish_reason: "tool_calls"`.
 * Several calls go out one after another with increasing `index`.
 */
export function openAiToolCallChunks(
  calls: readonly { id: string; name: string; argumentPieces: readonly string[] }[],
): FakeChunk[] {
  const out: FakeChunk[] = [openAiChunk({ role: 'assistant', content: null })];
  calls.forEach((c, index) => {
    out.push(
      openAiChunk({ tool_calls: [{ index, id: c.id, type: 'function', function: { name: c.name, arguments: '' } }] }),
    );
    for (const piece of c.argumentPieces) out.push(openAiChunk({ tool_calls: [{ index, function: { arguments: piece } }] }));
  });
  out.push(openAiChunk({}, 'tool_calls'));
  return out;
}
