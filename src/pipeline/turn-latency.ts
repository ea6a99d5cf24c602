import type { TurnLatency } from '../store/store.js';
import type { ReplyTimings } from './reply.js';

/** What the caller's turn cost before the agent was asked (wall times from performance.now). */
export interface UserTurnTiming {
  /** End of the caller's last voiced frame. */
  readonly lastSpeechAtMs: number;
  /** Silence waited before deciding the turn was over. */
  readonly endpointingMs: number;
  /** Turn end → final transcript. */
  readonly sttFinalMs: number;
}

/**
 * The latency breakdown of one answer. Parley's overhead is voice-to-voice minus every stage spent
 * waiting on endpointing or a provider (including the wait from the agent's first token to its first
 * complete sentence, which is the agent's time too).
 */
export function answerLatency(user: UserTurnTiming, reply: ReplyTimings, firstAudioAtMs: number): TurnLatency {
  const voiceToVoiceMs = Math.round(firstAudioAtMs - user.lastSpeechAtMs);
  const llmFirstTokenMs = reply.firstTokenAtMs !== undefined ? Math.round(reply.firstTokenAtMs - reply.startedAtMs) : undefined;
  const ttsFirstAudioMs = reply.ttsFirstAudioMs !== undefined ? Math.round(reply.ttsFirstAudioMs) : undefined;
  const sentenceWaitMs = reply.firstSentenceAtMs !== undefined && reply.firstTokenAtMs !== undefined ? reply.firstSentenceAtMs - reply.firstTokenAtMs : 0;
  const providerMs = user.endpointingMs + user.sttFinalMs + (llmFirstTokenMs ?? 0) + sentenceWaitMs + (ttsFirstAudioMs ?? 0);
  return {
    endpointingMs: Math.round(user.endpointingMs),
    sttFinalMs: Math.round(user.sttFinalMs),
    llmFirstTokenMs,
    ttsFirstAudioMs,
    voiceToVoiceMs,
    parleyOverheadMs: Math.max(0, Math.round(voiceToVoiceMs - providerMs)),
  };
}
