// Fake Anthropic Messages server: `event: <type>\ndata: {json}\n\n` events, no end marker
// beyond `message_stop`.
import { startFakeSseServer, type FakeChunk, type FakeScripts, type FakeServer } from './sse-server.js';

export type { FakeChunk, FakeScript, FakeScripts, FakeServer, RecordedRequest } from './sse-server.js';

/**
 * Starts a fake Anthropic server on 127.0.0.1 (answers any path; the client POSTs `/v1/messages`).
 * Error statuses get Anthropic's `{ type: 'error', error: { type, message } }` body unless the
 * script sets `errorBody`. The script's `done` flag has no effect (Anthropic has no [DONE]).
 */
export function startFakeAnthropic(script: FakeScripts): Promise<FakeServer> {
  return startFakeSseServer(script, {
    errorBody: (status) => ({ type: 'error', error: { type: anthropicErrorType(status), message: `fake error ${status}` } }),
  });
}

function anthropicErrorType(status: number): string {
  if (status === 400) return 'invalid_request_error';
  if (status === 401) return 'authentication_error';
  if (status === 429) return 'rate_limit_error';
  if (status === 529) return 'overloaded_error';
  return 'api_error';
}

/** One Anthropic stream event; the SSE event name is the payload's `type`, as on the wire. */
export function anthropicEvent(json: { readonly type: string } & Record<string, unknown>, delayMs?: number): FakeChunk {
  return delayMs === undefined ? { event: json.type, json } : { event: json.type, json, delayMs };
}

/** Token counts the fake reports: input in `message_start`, the final output count in `message_delta`. */
export interface FakeAnthropicUsage {
  readonly inputTokens: number;
  readonly outputTokens: number;
  /** Prompt tokens written to / read from the prompt cache, reported apart from input_tokens. */
  readonly cacheCreationInputTokens?: number;
  readonly cacheReadInputTokens?: number;
}

/** What the fake reports unless a stream says otherwise. */
export const DEFAULT_FAKE_ANTHROPIC_USAGE: FakeAnthropicUsage = { inputTokens: 10, outputTokens: 15 };

function messageStart(u: FakeAnthropicUsage): FakeChunk {
  return anthropicEvent({
    type: 'message_start',
    message: {
      id: 'msg_fake',
      type: 'message',
      role: 'assistant',
      content: [],
      model: 'fake-model',
      stop_reason: null,
      stop_sequence: null,
      usage: {
        input_tokens: u.inputTokens,
        cache_creation_input_tokens: u.cacheCreationInputTokens ?? 0,
        cache_read_input_tokens: u.cacheReadInputTokens ?? 0,
        // The API reports a small running output count here; the real one comes in message_delta.
        output_tokens: 1,
      },
    },
  });
}

/** A block to stream: text in pieces, or a tool_use whose input JSON arrives in pieces. */
export type AnthropicBlock =
  | { readonly text: readonly string[] }
  | { readonly toolUse: { readonly id: string; readonly name: string; readonly jsonPieces: readonly string[] } };

/**
 * A complete message stream: message_start (input usage), ping, the blocks, message_delta
 * (stop_reason, output usage), message_stop.
 */
export function anthropicStream(blocks: readonly AnthropicBlock[], o: { usage?: FakeAnthropicUsage } = {}): FakeChunk[] {
  const usage = o.usage ?? DEFAULT_FAKE_ANTHROPIC_USAGE;
  const out: FakeChunk[] = [messageStart(usage), anthropicEvent({ type: 'ping' })];
  let toolUsed = false;
  blocks.forEach((b, index) => {
    if ('text' in b) {
      out.push(anthropicEvent({ type: 'content_block_start', index, content_block: { type: 'text', text: '' } }));
      for (const text of b.text) {
        out.push(anthropicEvent({ type: 'content_block_delta', index, delta: { type: 'text_delta', text } }));
      }
    } else {
      toolUsed = true;
      const { id, name, jsonPieces } = b.toolUse;
      out.push(
        anthropicEvent({ type: 'content_block_start', index, content_block: { type: 'tool_use', id, name, input: {} } }),
      );
      for (const partial_json of jsonPieces) {
        out.push(anthropicEvent({ type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json } }));
      }
    }
    out.push(anthropicEvent({ type: 'content_block_stop', index }));
  });
  out.push(
    anthropicEvent({
      type: 'message_delta',
      delta: { stop_reason: toolUsed ? 'tool_use' : 'end_turn', stop_sequence: null },
      usage: { output_tokens: usage.outputTokens },
    }),
    anthropicEvent({ type: 'message_stop' }),
  );
  return out;
}

/** A streamed text reply in `pieces`. */
export function anthropicTextStream(pieces: readonly string[], o: { usage?: FakeAnthropicUsage } = {}): FakeChunk[] {
  return anthropicStream([{ text: pieces }], o);
}

/** An in-stream `error` event (e.g. `overloaded_error`), as Anthropic sends after a 200. */
export function anthropicErrorEvent(type: string, message = `fake ${type}`): FakeChunk {
  return anthropicEvent({ type: 'error', error: { type, message } });
}
