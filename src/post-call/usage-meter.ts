/**
 * Meters what one call consumes — carrier time, speech-to-text audio, model tokens, synthesised
 * characters — for its cost (cost.ts). The voice session feeds it as the call runs; `snapshot` is
 * taken when the call ends.
 *
 * Constraints: token counts reported by a provider are used as they are; only a request whose
 * provider reported nothing is estimated (≈ 4 characters per token, prompt and completion apart),
 * and the snapshot then says `llmTokensEstimated`. Carrier minutes are billed per started minute.
 */
import type { CallUsage } from '../store/store.js';

/** Characters per token of the estimate (English text with common tokenizers). */
export const CHARS_PER_TOKEN = 4;

export function estimateTokens(chars: number): number {
  return chars <= 0 ? 0 : Math.ceil(chars / CHARS_PER_TOKEN);
}

/** One model request being metered. */
export interface LlmRequestMeter {
  /** Generated text or tool-call arguments, for the estimate when no usage is reported. */
  addCompletionChars(n: number): void;
  /** Token counts the provider reported; when present they replace the estimate. Adds up if reported more than once. */
  addUsage(u: { inputTokens: number; outputTokens: number }): void;
}

interface RequestState {
  promptChars: number;
  completionChars: number;
  reported: { inputTokens: number; outputTokens: number } | undefined;
}

const nonNegative = (n: number): number => (Number.isFinite(n) && n > 0 ? n : 0);

export class CallUsageMeter {
  private sttAudioMs = 0;
  private ttsCharacters = 0;
  private readonly requests: RequestState[] = [];

  /** Caller audio sent to speech-to-text (every attempt of a fallback chain is billed, so count each). */
  addSttAudioMs(ms: number): void {
    this.sttAudioMs += nonNegative(ms);
  }

  /** Characters sent to text-to-speech. */
  addTtsCharacters(n: number): void {
    this.ttsCharacters += nonNegative(n);
  }

  /**
   * Starts metering one model request whose prompt (messages and tool specs) is `promptChars` long.
   * A request cut short (barge-in, failure) still counts: its prompt was processed.
   */
  llmRequest(promptChars: number): LlmRequestMeter {
    const state: RequestState = { promptChars: nonNegative(promptChars), completionChars: 0, reported: undefined };
    this.requests.push(state);
    return {
      addCompletionChars: (n) => {
        state.completionChars += nonNegative(n);
      },
      addUsage: (u) => {
        const r = (state.reported ??= { inputTokens: 0, outputTokens: 0 });
        r.inputTokens += nonNegative(u.inputTokens);
        r.outputTokens += nonNegative(u.outputTokens);
      },
    };
  }

  /** Usage so far, for a call that lasted `callDurationMs`. */
  snapshot(callDurationMs: number): CallUsage {
    let input = 0;
    let output = 0;
    let estimated = false;
    for (const r of this.requests) {
      if (r.reported !== undefined) {
        input += r.reported.inputTokens;
        output += r.reported.outputTokens;
      } else {
        input += estimateTokens(r.promptChars);
        output += estimateTokens(r.completionChars);
        estimated = true;
      }
    }
    return {
      carrierMinutes: Math.ceil(nonNegative(callDurationMs) / 60_000),
      sttSeconds: Math.round(this.sttAudioMs) / 1000,
      llmInputTokens: input,
      llmOutputTokens: output,
      llmTokensEstimated: estimated,
      ttsCharacters: this.ttsCharacters,
    };
  }
}
