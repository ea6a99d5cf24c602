import type { AudioFrame } from '../audio/frame.js';

/**
 * What the voice session needs from a carrier connection. Audio handed to `play` is queued and
 * paced out at real time; `mark` asks the far end to confirm when playback reaches that point.
 */
export interface MediaTransport {
  /** Rate of the carrier's audio (8000 for PSTN). */
  readonly sampleRateHz: number;
  play(frame: AudioFrame): void;
  mark(name: string): void;
  /** Drops queued audio here and in the carrier's playback buffer (barge-in). */
  clear(): void;
  /** Ends the call's media; for <Connect><Stream> this ends the call. */
  hangup(reason: string): void;
}

/** Callbacks from a transport into the session that owns the call. */
export interface MediaHandler {
  /** The stream is live; outbound audio may flow (play the greeting here). */
  onStart(): void;
  onAudio(frame: AudioFrame, receivedAtMs: number): void;
  onDtmf(digit: string): void;
  /** Playback reached `name` (also sent for marks discarded by a clear). */
  onMark(name: string, atMs: number): void;
  /**
   * `durationMs` of audio just went on the wire; `samples` is that frame as sent (transport rate),
   * valid only during the call (the buffer is reused).
   */
  onAudioSent(durationMs: number, atMs: number, samples?: Int16Array): void;
  /** The media stream ended; no callbacks follow. */
  onEnd(reason: string): void;
}
