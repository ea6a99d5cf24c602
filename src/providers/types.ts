import type { AudioFrame } from '../audio/frame.js';

/** Options every provider call receives. Abort = stop work now, release resources, return. */
export interface CallOptions {
  readonly signal: AbortSignal;
}

// ---------- speech-to-text ----------

export type TranscriptEvent =
  | { readonly kind: 'partial'; readonly text: string }
  | { readonly kind: 'final'; readonly text: string; readonly confidence?: number };

/**
 * Transcribes one user utterance. The caller ends `audio` when the turn ends (endpointing);
 * the provider then yields exactly one `final` (possibly with empty text) and returns.
 * A provider instance belongs to one call and may be used for many utterances, one at a time.
 */
export interface SttProvider {
  readonly name: string;
  transcribe(audio: AsyncIterable<AudioFrame>, o: CallOptions): AsyncIterable<TranscriptEvent>;
  /**
   * Gets ready for the call's first utterance ahead of it (while the greeting plays): opens the
   * connection, leases the decoder. Optional, returns at once, never throws: a failure here is met
   * again, and reported, by the first transcribe().
   */
  prepare?(sampleRateHz: number): void;
  /** Releases per-call resources (decoders, sockets). Idempotent. */
  close(): Promise<void>;
}

// ---------- language model / agent ----------

export interface ToolCall {
  readonly id: string;
  readonly name: string;
  readonly arguments: Record<string, unknown>;
}

export interface ToolSpec {
  readonly name: string;
  readonly description: string;
  /** JSON Schema of the arguments object. */
  readonly parameters: Record<string, unknown>;
}

export type ChatMessage =
  | { readonly role: 'system'; readonly content: string }
  | { readonly role: 'user'; readonly content: string }
  | { readonly role: 'assistant'; readonly content: string; readonly toolCalls?: readonly ToolCall[] }
  | { readonly role: 'tool'; readonly toolCallId: string; readonly content: string };

export interface ChatRequest {
  /** Conversation so far; assistant messages hold only what the caller actually heard. */
  readonly messages: readonly ChatMessage[];
  readonly tools?: readonly ToolSpec[];
}

/**
 * What a model streams. `usage` is metering, not output: at most one per `complete()` call, after
 * the text and tool calls, and only when the provider reported token counts (keyless local servers
 * often do not). Consumers that speak or act on the reply must ignore it.
 */
export type LlmDelta =
  | { readonly kind: 'text'; readonly text: string }
  | { readonly kind: 'tool_call'; readonly call: ToolCall }
  | { readonly kind: 'usage'; readonly inputTokens: number; readonly outputTokens: number };

export interface LlmProvider {
  readonly name: string;
  complete(req: ChatRequest, o: CallOptions): AsyncIterable<LlmDelta>;
  /**
   * Gets ready for a request coming soon (the caller is talking): opens a connection to the API if
   * none is pooled. Optional, returns at once, never throws: a failure is met again, and reported,
   * by complete().
   */
  prepare?(): void;
}

// ---------- text-to-speech ----------

export interface TtsProvider {
  readonly name: string;
  /** Rate of the frames this provider yields. */
  readonly sampleRateHz: number;
  /** Speaks the concatenation of `text` chunks; yields audio as soon as it exists. */
  synthesize(text: AsyncIterable<string>, o: CallOptions): AsyncIterable<AudioFrame>;
  /**
   * Gets ready for the call's first synthesis ahead of it (opens the connection). Optional, returns at
   * once, never throws: a failure here is met again, and reported, by the first synthesize().
   */
  prepare?(): void;
  /** Releases per-call resources (e.g. a kept-open socket); idempotent. Optional: stateless providers omit it. */
  close?(): Promise<void>;
}

/** Error a provider throws for failures worth failing over on (connection, 5xx, 429, deadline). */
export class ProviderError extends Error {
  constructor(
    readonly provider: string,
    message: string,
    readonly retryable: boolean,
    options?: { cause?: unknown },
  ) {
    super(`${provider}: ${message}`, options);
    this.name = 'ProviderError';
  }
}
