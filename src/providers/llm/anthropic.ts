// Anthropic Messages API (streaming). Plain fetch, no SDK.
import { z } from 'zod';
import { redact } from '../http/errors.js';
import { preconnect } from '../http/connection-pool.js';
import { postSse } from '../http/sse.js';
import {
  ProviderError,
  type CallOptions,
  type ChatMessage,
  type ChatRequest,
  type LlmDelta,
  type LlmProvider,
  type ToolSpec,
} from '../types.js';
import { parseToolArguments, tokenCount } from './openai.js';

/** Default API root (without `/v1`). */
export const ANTHROPIC_DEFAULT_BASE_URL = 'https://api.anthropic.com';
/** API version header value this mapping was written against. */
export const ANTHROPIC_VERSION = '2023-06-01';
/** `max_tokens` is mandatory on this API; a spoken reply is far shorter than this. */
export const ANTHROPIC_DEFAULT_MAX_TOKENS = 1024;
/**
 * Default wait for the response headers and first event, and then between events. The API sends
 * `ping` events while busy, so silence this long means a dead stream; failing over beats more
 * dead air for the caller.
 */
export const ANTHROPIC_DEFAULT_TIMEOUT_MS = 10_000;

/** Options of the `anthropic` LLM provider, as written in the tenant file. */
export const anthropicLlmOptionsSchema = z.strictObject({
  apiKey: z.string().min(1),
  /** API root without `/v1/messages`. */
  baseUrl: z.url({ protocol: /^https?$/ }).optional(),
  model: z.string().min(1),
  maxTokens: z.int().positive().optional(),
  temperature: z.number().min(0).max(1).optional(),
  timeoutMs: z.int().positive().optional(),
});

/** Options of {@link AnthropicLlm}. */
export type AnthropicLlmOptions = z.infer<typeof anthropicLlmOptionsSchema>;

type ContentBlock =
  | { type: 'text'; text: string }
  | { type: 'tool_use'; id: string; name: string; input: Record<string, unknown> }
  | { type: 'tool_result'; tool_use_id: string; content: string };
interface WireMessage {
  role: 'user' | 'assistant';
  content: ContentBlock[];
}

/**
 * Maps our conversation to Anthropic's `system` string and `messages`. System messages are joined
 * (blank line between); assistant tool calls become `tool_use` blocks; tool messages become user
 * `tool_result` blocks. Consecutive same-role messages merge into one, since the API requires
 * user/assistant alternation, and in a merged user message the tool results come first, as the
 * API requires. Empty text blocks are dropped (the API rejects them), and so are messages left empty.
 */
export function toAnthropicMessages(messages: readonly ChatMessage[]): { system: string; messages: WireMessage[] } {
  const system: string[] = [];
  const out: WireMessage[] = [];
  const push = (role: WireMessage['role'], blocks: ContentBlock[]): void => {
    if (blocks.length === 0) return;
    const last = out.at(-1);
    if (last !== undefined && last.role === role) last.content.push(...blocks);
    else out.push({ role, content: blocks });
  };
  const text = (t: string): ContentBlock[] => (t.trim() === '' ? [] : [{ type: 'text', text: t }]);
  for (const m of messages) {
    switch (m.role) {
      case 'system':
        if (m.content.trim() !== '') system.push(m.content);
        break;
      case 'user':
        push('user', text(m.content));
        break;
      case 'assistant':
        push('assistant', [
          ...text(m.content),
          ...(m.toolCalls ?? []).map((c): ContentBlock => ({ type: 'tool_use', id: c.id, name: c.name, input: c.arguments })),
        ]);
        break;
      case 'tool':
        push('user', [{ type: 'tool_result', tool_use_id: m.toolCallId, content: m.content }]);
        break;
    }
  }
  for (const m of out) {
    if (m.role === 'user') {
      m.content = [...m.content.filter((b) => b.type === 'tool_result'), ...m.content.filter((b) => b.type !== 'tool_result')];
    }
  }
  return { system: system.join('\n\n'), messages: out };
}

/** Maps our tool specs to Anthropic `tools`. */
export function toAnthropicTools(tools: readonly ToolSpec[]): unknown[] {
  return tools.map((t) => ({ name: t.name, description: t.description, input_schema: t.parameters }));
}

/** Stream event fields we read; everything is optional on the wire. */
interface StreamEvent {
  type?: string;
  index?: number;
  /** message_start: the message with its input token usage. */
  message?: { usage?: WireUsage };
  /** message_delta: cumulative usage (output tokens; newer versions repeat the input counts). */
  usage?: WireUsage;
  content_block?: { type?: string; id?: string; name?: string; input?: unknown };
  delta?: { type?: string; text?: string; partial_json?: string };
  error?: { type?: string; message?: string };
}

/** Token counts; cached prompt tokens are reported apart from `input_tokens`. */
interface WireUsage {
  input_tokens?: number | null;
  output_tokens?: number | null;
  cache_creation_input_tokens?: number | null;
  cache_read_input_tokens?: number | null;
}

/** Every prompt token, cached or not (cost estimates price them alike). */
function inputTokensOf(u: WireUsage): number {
  return tokenCount(u.input_tokens) + tokenCount(u.cache_creation_input_tokens) + tokenCount(u.cache_read_input_tokens);
}

/** In-stream error types worth failing over on. */
const RETRYABLE_STREAM_ERRORS: ReadonlySet<string> = new Set(['overloaded_error', 'api_error', 'rate_limit_error']);

type OpenBlock = { kind: 'text' } | { kind: 'tool'; id: string; name: string; json: string[]; input: unknown };

/**
 * Streams a reply from the Anthropic Messages API: text deltas as they arrive, each tool call
 * once its block closes, and at `message_stop` one `usage` delta (input tokens from
 * `message_start`, output tokens from the last `message_delta`). Errors are ProviderErrors: HTTP 408/409/429/5xx (529 overloaded),
 * network failures, silence beyond `timeoutMs`, in-stream `overloaded_error`/`api_error` and
 * streams cut before `message_stop` are retryable; other 4xx and malformed tool input are not.
 * Abort returns quietly. Stateless: one instance may serve many calls concurrently.
 */
export class AnthropicLlm implements LlmProvider {
  readonly name = 'anthropic';
  readonly #options: AnthropicLlmOptions;
  readonly #url: string;

  constructor(options: AnthropicLlmOptions) {
    this.#options = options;
    this.#url = `${(options.baseUrl ?? ANTHROPIC_DEFAULT_BASE_URL).replace(/\/+$/, '')}/v1/messages`;
  }

  /** Opens a connection to the API ahead of the next request, unless one is pooled (see connection-pool.ts). */
  prepare(): void {
    preconnect(this.#url);
  }

  async *complete(req: ChatRequest, o: CallOptions): AsyncIterable<LlmDelta> {
    const opts = this.#options;
    const mapped = toAnthropicMessages(req.messages);
    const body: Record<string, unknown> = {
      model: opts.model,
      max_tokens: opts.maxTokens ?? ANTHROPIC_DEFAULT_MAX_TOKENS,
      stream: true,
    };
    if (mapped.system !== '') body.system = mapped.system;
    body.messages = mapped.messages;
    if (opts.temperature !== undefined) body.temperature = opts.temperature;
    if (req.tools !== undefined && req.tools.length > 0) body.tools = toAnthropicTools(req.tools);
    const secrets = [opts.apiKey];

    const blocks = new Map<number, OpenBlock>();
    let stopped = false;
    let inputTokens: number | undefined;
    let outputTokens: number | undefined;
    const events = postSse({
      provider: this.name,
      url: this.#url,
      headers: {
        'x-api-key': opts.apiKey,
        'anthropic-version': ANTHROPIC_VERSION,
        'content-type': 'application/json',
        accept: 'text/event-stream',
      },
      body,
      idleTimeoutMs: opts.timeoutMs ?? ANTHROPIC_DEFAULT_TIMEOUT_MS,
      secrets,
      signal: o.signal,
    });
    for await (const sse of events) {
      let ev: StreamEvent;
      try {
        ev = JSON.parse(sse.data) as StreamEvent;
      } catch {
        throw new ProviderError(this.name, 'malformed stream event (not JSON)', true);
      }
      // The SSE event name and the payload's `type` are the same on this API; prefer the payload.
      const type = ev.type ?? sse.event;
      const index = ev.index ?? 0;
      switch (type) {
        case 'content_block_start': {
          const b = ev.content_block;
          if (b?.type === 'text') blocks.set(index, { kind: 'text' });
          else if (b?.type === 'tool_use') {
            blocks.set(index, { kind: 'tool', id: b.id ?? `toolu_${index}`, name: b.name ?? '', json: [], input: b.input });
          }
          // Other block types (thinking, server tools) are not spoken; their deltas are ignored.
          break;
        }
        case 'content_block_delta': {
          const block = blocks.get(index);
          const d = ev.delta;
          if (d?.type === 'text_delta' && typeof d.text === 'string' && d.text !== '') {
            yield { kind: 'text', text: d.text };
          } else if (d?.type === 'input_json_delta' && block?.kind === 'tool' && typeof d.partial_json === 'string') {
            block.json.push(d.partial_json);
          }
          break;
        }
        case 'content_block_stop': {
          const block = blocks.get(index);
          blocks.delete(index);
          if (block?.kind !== 'tool') break;
          if (block.name === '') throw new ProviderError(this.name, 'tool_use block without a name', false);
          // `input` at block start is `{}`; the real input streams as input_json_delta pieces.
          const json = block.json.join('');
          const args =
            json.trim() === '' && isObject(block.input)
              ? block.input
              : parseToolArguments(this.name, block.name, json);
          yield { kind: 'tool_call', call: { id: block.id, name: block.name, arguments: args } };
          break;
        }
        case 'message_start': {
          const u = ev.message?.usage;
          if (u !== undefined) {
            inputTokens = inputTokensOf(u);
            outputTokens = tokenCount(u.output_tokens);
          }
          break;
        }
        case 'message_delta': {
          // Counts here are cumulative: they replace, not add to, earlier ones.
          const u = ev.usage;
          if (u !== undefined) {
            if (u.output_tokens !== undefined && u.output_tokens !== null) outputTokens = tokenCount(u.output_tokens);
            if (u.input_tokens !== undefined && u.input_tokens !== null) inputTokens = inputTokensOf(u);
          }
          break;
        }
        case 'message_stop':
          stopped = true;
          if (inputTokens !== undefined || outputTokens !== undefined) {
            yield { kind: 'usage', inputTokens: inputTokens ?? 0, outputTokens: outputTokens ?? 0 };
          }
          break;
        case 'error': {
          const errType = ev.error?.type ?? 'error';
          const message = redact(String(ev.error?.message ?? ''), secrets).slice(0, 200);
          throw new ProviderError(this.name, `${errType}: ${message}`, RETRYABLE_STREAM_ERRORS.has(errType));
        }
        default:
          // ping, and event types added later: nothing to yield.
          break;
      }
      if (stopped) return;
    }
    if (o.signal.aborted) return;
    throw new ProviderError(this.name, 'stream ended early', true);
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
