/**
 * Turn-taking on media time: decides from per-frame speech probabilities when the caller starts
 * speaking, when a turn ends (endpointing), and when the caller interrupts the agent (barge-in).
 * Pure and clock-free: time advances by the frames fed in, so tests replay audio instantly and
 * results do not depend on event-loop jitter.
 */
export interface TurnTakingOptions {
  /** Silence after speech that ends the turn. */
  silenceMs: number;
  /** Voiced audio needed before a sound counts as speech (filters clicks and coughs). */
  minSpeechMs: number;
  /** Voiced audio while the agent talks that interrupts the agent. */
  bargeInMs: number;
  /** Whether caller speech may interrupt the agent at all. */
  bargeIn: boolean;
  /** Speech probability at or above which a frame is voiced. */
  speechThreshold: number;
  /** A gap this long inside an unconfirmed sound discards it. */
  candidateGapMs: number;
}

export const turnTakingDefaults = {
  silenceMs: 600,
  minSpeechMs: 100,
  bargeInMs: 150,
  bargeIn: true,
  speechThreshold: 0.5,
  candidateGapMs: 240,
} as const satisfies TurnTakingOptions;

export type TurnEvent =
  /** First voiced frame of a possible utterance; `atMs` is its media time. */
  | { readonly kind: 'speech_start'; readonly atMs: number }
  /** The sound lasted long enough to be speech. */
  | { readonly kind: 'speech_confirmed'; readonly atMs: number }
  /** The sound was too short to be speech; drop what was collected for it. */
  | { readonly kind: 'speech_discarded'; readonly atMs: number }
  /** The caller has been speaking over the agent for `bargeInMs`. */
  | { readonly kind: 'barge_in'; readonly atMs: number }
  /** The caller's turn ended; `lastSpeechAtMs` is the end of the last voiced frame. */
  | { readonly kind: 'turn_end'; readonly atMs: number; readonly lastSpeechAtMs: number };

type State = 'silence' | 'candidate' | 'speaking';

export class TurnTaking {
  private readonly o: TurnTakingOptions;
  private state: State = 'silence';
  private mediaMs = 0;
  private voicedMs = 0;
  private gapMs = 0;
  private lastVoicedEndMs = 0;
  private bargedIn = false;
  /** This turn's silence window when the words so far call for another (see setTurnSilenceMs). */
  private turnSilenceMs: number | undefined;

  constructor(options: Partial<TurnTakingOptions> = {}) {
    this.o = { ...turnTakingDefaults, ...options };
  }

  /** Media time consumed so far. */
  get nowMs(): number {
    return this.mediaMs;
  }

  get isSpeaking(): boolean {
    return this.state === 'speaking';
  }

  /** Voiced media ms in the current utterance (0 between utterances). */
  get speechMs(): number {
    return this.state === 'silence' ? 0 : this.voicedMs;
  }

  /** Silence (media ms) since the last voiced frame. */
  get silenceMs(): number {
    return this.gapMs;
  }

  /**
   * Changes the silence that ends the current turn: longer while the words so far are clearly
   * incomplete, shorter once they are clearly complete. Undefined restores the default. Reset when
   * the next utterance starts.
   */
  setTurnSilenceMs(ms: number | undefined): void {
    this.turnSilenceMs = ms;
  }

  /**
   * Feeds one frame's speech probability. `agentSpeaking` says whether agent audio is playing
   * to the caller right now (only then can a barge-in fire). Returns the events this frame caused.
   */
  push(probability: number, frameMs: number, agentSpeaking: boolean): TurnEvent[] {
    const startMs = this.mediaMs;
    this.mediaMs += frameMs;
    const voiced = probability >= this.o.speechThreshold;
    const events: TurnEvent[] = [];
    if (voiced) {
      this.lastVoicedEndMs = this.mediaMs;
      this.gapMs = 0;
      this.voicedMs += frameMs;
    } else {
      this.gapMs += frameMs;
    }

    switch (this.state) {
      case 'silence':
        if (voiced) {
          this.state = 'candidate';
          this.voicedMs = frameMs;
          this.bargedIn = false;
          this.turnSilenceMs = undefined;
          events.push({ kind: 'speech_start', atMs: startMs });
          this.maybeConfirm(events, agentSpeaking);
        }
        break;
      case 'candidate':
        if (!voiced && this.gapMs >= this.o.candidateGapMs) {
          this.state = 'silence';
          this.voicedMs = 0;
          events.push({ kind: 'speech_discarded', atMs: this.mediaMs });
        } else {
          this.maybeConfirm(events, agentSpeaking);
        }
        break;
      case 'speaking':
        this.maybeBargeIn(events, agentSpeaking);
        if (!voiced && this.gapMs >= (this.turnSilenceMs ?? this.o.silenceMs)) {
          this.state = 'silence';
          this.voicedMs = 0;
          events.push({ kind: 'turn_end', atMs: this.mediaMs, lastSpeechAtMs: this.lastVoicedEndMs });
        }
        break;
      default: {
        const unreachable: never = this.state;
        throw new Error(`unknown state ${String(unreachable)}`);
      }
    }
    return events;
  }

  private maybeConfirm(events: TurnEvent[], agentSpeaking: boolean): void {
    if (this.voicedMs >= this.o.minSpeechMs) {
      this.state = 'speaking';
      events.push({ kind: 'speech_confirmed', atMs: this.mediaMs });
      this.maybeBargeIn(events, agentSpeaking);
    }
  }

  private maybeBargeIn(events: TurnEvent[], agentSpeaking: boolean): void {
    if (!this.o.bargeIn || this.bargedIn || !agentSpeaking) return;
    if (this.voicedMs >= this.o.bargeInMs) {
      this.bargedIn = true;
      events.push({ kind: 'barge_in', atMs: this.mediaMs });
    }
  }
}
