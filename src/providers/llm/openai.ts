// OpenAI Chat Completions (streaming), and every server speaking its dialect: llama.cpp,
// Ollama, vLLM, LM Studio, OpenRouter, Groq... Plain fetch, no SDK.
import { randomUUID } from 'node:crypto';
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
  type ToolCall,
  type ToolSpec,
} from '../types.js';

/** Default API root; local servers put theirs under `/v1` too. */
export const OPENAI_DEFAULT_BASE_URL = 'https://api.openai.com/v1';
/**
 * Default wait for the response headers and first chunk, and then between chunks. Long enough
 * for a big model's time-to-first-token on a long prompt; past it the caller has heard silence
 * for too long and failing over beats waiting.
 */
export const OPENAI_DEFAULT_TIMEOUT_MS = 10_000;

/** Options of the `openai` LLM provider, as written in the tenant file. */
export const openAiLlmOptionsSchema = z.strictObject({
  /** Sent as `Authorization: Bearer`; omit for keyless local servers. */
  apiKey: z.string().min(1).optional(),
  /** API root without `/chat/completions`. */
  baseUrl: z.url({ protocol: /^https?$/ }).optional(),
  model: z.string().min(1),
  temperature: z.number().min(0).max(2).optional(),
  /** Sent as `max_tokens`, which local servers understand (OpenAI's newer name is max_completion_tokens). */
  maxTokens: z.int().positive().optional(),
  timeoutMs: z.int().positive().optional(),
  /** Extra request headers (e.g. `OpenAI-Organization`, OpenRouter's `HTTP-Referer`). */
  headers: z.record(z.string(), z.string()).optional(),
  /**
   * Ask for token usage (`stream_options.include_usage`), for the call's cost. Default true; set
   * false for a server that rejects `stream_options` (servers that ignore it are fine).
   */
  includeUsage: z.boolean().optional(),
});

/** Options of {@link OpenAiLlm}. */
export type OpenAiLlmOptions = z.infer<typeof openAiLlmOptionsSchema>;

interface WireToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}
type WireMessage =
  | { role: 'system' | 'user'; content: string }
  | { role: 'assistant'; content: string | null; tool_calls?: WireToolCall[] }
  | { role: 'tool'; tool_call_id: string; content: string };

/** Maps our messages to the Chat Completions `messages` array. */
export function toOpenAiMessages(messages: readonly ChatMessage[]): WireMessage[] {
  return messages.map((m): WireMessage => {
    switch (m.role) {
      case 'system':
      case 'user':
        return { role: m.role, content: m.content };
      case 'assistant': {
        const calls = m.toolCalls ?? [];
        if (calls.length === 0) return { role: 'assistant', content: m.content };
        return {
          role: 'assistant',
          // OpenAI wants null, not '', when the turn is only tool calls.
          content: m.content === '' ? null : m.content,
          tool_calls: calls.map((c) => ({
            id: c.id,
            type: 'function',
            function: { name: c.name, arguments: JSON.stringify(c.arguments) },
          })),
        };
      }
      case 'tool':
        return { role: 'tool', tool_call_id: m.toolCallId, content: m.content };
    }
  });
}

/** Maps our tool specs to Chat Completions `tools`. */
export function toOpenAiTools(tools: readonly ToolSpec[]): unknown[] {
  return tools.map((t) => ({
    type: 'function',
    function: { name: t.name, description: t.description, parameters: t.parameters },
  }));
}

/** A tool call being assembled from stream fragments. */
interface PendingCall {
  id: string | undefined;
  name: string;
  args: string[];
}

/** Shape of the chunk fields we read; everything is optional on the wire. */
interface Chunk {
  choices?: {
    delta?: {
      content?: string | null;
      tool_calls?: { index?: number; id?: string; function?: { name?: string; arguments?: string } }[];
    };
    finish_reason?: string | null;
  }[];
  error?: { message?: string; type?: string; code?: unknown };
  /**
   * Token counts. OpenAI sends them (with include_usage) in one extra chunk with empty `choices`
   * just before [DONE], and `usage: null` on every other chunk; some servers put them on the last
   * content chunk instead.
   */
  usage?: { prompt_tokens?: number; completion_tokens?: number } | null;
}

/**
 * Parses a tool call's accumulated arguments. Empty means no arguments (some servers send '' for
 * parameterless functions). Anything but a JSON object is a non-retryable ProviderError: the
 * model produced it, and asking again is the caller's decision.
 */
export function parseToolArguments(provider: string, name: string, json: string): Record<string, unknown> {
  if (json.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    throw new ProviderError(provider, `tool call "${name}": arguments are not valid JSON`, false);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ProviderError(provider, `tool call "${name}": arguments are not a JSON object`, false);
  }
  return parsed as Record<string, unknown>;
}

/**
 * Streams chat completions from an OpenAI-compatible server: text as it arrives, tool calls once
 * complete (at `finish_reason` or `[DONE]`), then one `usage` delta when the server reported token
 * counts. Errors are ProviderErrors: HTTP 408/409/429/5xx,
 * network failures, silence beyond `timeoutMs` and streams cut short are retryable; other 4xx and
 * malformed tool arguments are not. Abort returns quietly. Stateless: one instance may serve many
 * calls concurrently.
 */
export class OpenAiLlm implements LlmProvider {
  readonly name = 'openai';
  readonly #options: OpenAiLlmOptions;
  readonly #url: string;

  constructor(options: OpenAiLlmOptions) {
    this.#options = options;
    this.#url = `${(options.baseUrl ?? OPENAI_DEFAULT_BASE_URL).replace(/\/+$/, '')}/chat/completions`;
  }

  /** Opens a connection to the API ahead of the next request, unless one is pooled (see connection-pool.ts). */
  prepare(): void {
    preconnect(this.#url);
  }

  async *complete(req: ChatRequest, o: CallOptions): AsyncIterable<LlmDelta> {
    const opts = this.#options;
    const headers: Record<string, string> = {
      ...opts.headers,
      'content-type': 'application/json',
      accept: 'text/event-stream',
    };
    // Keyless local servers must not get an empty or bogus Authorization header.
    if (opts.apiKey !== undefined) headers.authorization = `Bearer ${opts.apiKey}`;
    const body: Record<string, unknown> = {
      model: opts.model,
      messages: toOpenAiMessages(req.messages),
      stream: true,
    };
    if (opts.temperature !== undefined) body.temperature = opts.temperature;
    if (opts.maxTokens !== undefined) body.max_tokens = opts.maxTokens;
    if (req.tools !== undefined && req.tools.length > 0) body.tools = toOpenAiTools(req.tools);
    if (opts.includeUsage !== false) body.stream_options = { include_usage: true };

    const secrets = [opts.apiKey];
    const pending: PendingCall[] = [];
    /** Stream index → slot in `pending`. */
    const slotByIndex = new Map<number, PendingCall>();
    let finished = false;
    let usage: LlmDelta | undefined;
    const flush = (): ToolCall[] => {
      const calls = pending.map((p): ToolCall => {
        if (p.name === '') throw new ProviderError(this.name, 'tool call without a function name', false);
        return {
          id: p.id ?? `call_${randomUUID()}`,
          name: p.name,
          arguments: parseToolArguments(this.name, p.name, p.args.join('')),
        };
      });
      pending.length = 0;
      slotByIndex.clear();
      return calls;
    };

    const events = postSse({
      provider: this.name,
      url: this.#url,
      headers,
      body,
      idleTimeoutMs: opts.timeoutMs ?? OPENAI_DEFAULT_TIMEOUT_MS,
      secrets,
      signal: o.signal,
    });
    for await (const ev of events) {
      if (ev.data === '[DONE]') {
        for (const call of flush()) yield { kind: 'tool_call', call };
        if (usage !== undefined) yield usage;
        return;
      }
      let chunk: Chunk;
      try {
        chunk = JSON.parse(ev.data) as Chunk;
      } catch {
        throw new ProviderError(this.name, 'malformed stream chunk (not JSON)', true);
      }
      if (chunk.error !== undefined) {
        // Mid-stream errors arrive as a chunk with an `error` object instead of choices.
        const type = chunk.error.type ?? 'error';
        const message = redact(String(chunk.error.message ?? ''), secrets).slice(0, 200);
        throw new ProviderError(this.name, `${type}: ${message}`, /server|overload|rate|timeout/i.test(type));
      }
      if (chunk.usage !== undefined && chunk.usage !== null) {
        usage = { kind: 'usage', inputTokens: tokenCount(chunk.usage.prompt_tokens), outputTokens: tokenCount(chunk.usage.completion_tokens) };
      }
      // Usage-only chunks have empty `choices`.
      const choice = chunk.choices?.[0];
      if (choice === undefined) continue;
      const delta = choice.delta;
      if (typeof delta?.content === 'string' && delta.content !== '') yield { kind: 'text', text: delta.content };
      for (const frag of delta?.tool_calls ?? []) {
        const index = frag.index ?? 0;
        let slot = slotByIndex.get(index);
        // Ollama reuses index 0 for parallel calls; a new id at a used index is a new call.
        if (slot === undefined || (frag.id !== undefined && frag.id !== '' && slot.id !== undefined && frag.id !== slot.id)) {
          slot = { id: undefined, name: '', args: [] };
          slotByIndex.set(index, slot);
          pending.push(slot);
        }
        if (frag.id !== undefined && frag.id !== '') slot.id = frag.id;
        // The name arrives whole in the first fragment; some servers repeat it in later ones.
        if (slot.name === '' && frag.function?.name !== undefined) slot.name = frag.function.name;
        if (frag.function?.arguments !== undefined) slot.args.push(frag.function.arguments);
      }
      if (choice.finish_reason !== undefined && choice.finish_reason !== null) {
        // Flush on any finish reason: some servers report "stop" even after tool calls.
        finished = true;
        for (const call of flush()) yield { kind: 'tool_call', call };
      }
    }
    if (o.signal.aborted) return;
    // A server may omit [DONE] after a finish_reason; without either the reply is truncated.
    if (!finished) throw new ProviderError(this.name, 'stream ended early', true);
    if (usage !== undefined) yield usage;
  }
}

/** A token count from the wire; anything but a non-negative number counts as 0. */
export function tokenCount(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) && v > 0 ? Math.round(v) : 0;
}
