/**
 * Knows what part of an agent reply the caller actually heard. Audio is queued sentence by
 * sentence, each followed by a mark; the carrier echoes a mark when playback reaches it.
 * Between marks the position is extrapolated from the last confirmed point at real time,
 * never beyond the audio actually sent. On interruption the reply is cut to that position.
 */
interface Segment {
  readonly text: string;
  readonly startMs: number;
  endMs: number;
  markName?: string;
  heardLogged: boolean;
}

export class PlayoutTracker {
  private readonly segments: Segment[] = [];
  private queuedMs = 0;
  private sentMs = 0;
  /** Playback position `anchorPosMs` was reached at wall time `anchorWallMs`. */
  private anchorPosMs = 0;
  private anchorWallMs: number | undefined;
  private confirmedMs = 0;

  /** Starts a sentence; its audio follows through `addQueuedAudio`. */
  beginSegment(text: string): void {
    this.segments.push({ text, startMs: this.queuedMs, endMs: this.queuedMs, heardLogged: false });
  }

  addQueuedAudio(durationMs: number): void {
    this.queuedMs += durationMs;
    const seg = this.segments.at(-1);
    if (seg) seg.endMs = this.queuedMs;
  }

  /** Closes the current sentence with the mark that will confirm it. */
  endSegment(markName: string): void {
    const seg = this.segments.at(-1);
    if (seg) seg.markName = markName;
  }

  /** The transport put `durationMs` more audio on the wire at `wallMs`. */
  onAudioSent(durationMs: number, wallMs: number): void {
    if (this.anchorWallMs === undefined) {
      this.anchorWallMs = wallMs;
      this.anchorPosMs = this.sentMs;
    }
    this.sentMs += durationMs;
  }

  /**
   * The carrier says playback reached `markName`. Returns the sentence texts newly confirmed
   * as heard (for writing the turn as it is heard), or undefined for an unknown mark.
   */
  onMark(markName: string, wallMs: number): string[] | undefined {
    const idx = this.segments.findIndex((s) => s.markName === markName);
    if (idx < 0) return undefined;
    const seg = this.segments[idx] as Segment;
    this.confirmedMs = Math.max(this.confirmedMs, seg.endMs);
    this.anchorPosMs = seg.endMs;
    this.anchorWallMs = wallMs;
    const newly: string[] = [];
    for (let i = 0; i <= idx; i++) {
      const s = this.segments[i] as Segment;
      if (!s.heardLogged) {
        s.heardLogged = true;
        newly.push(s.text);
      }
    }
    return newly;
  }

  /** Estimated playback position (ms of this reply's audio the caller has heard) at `wallMs`. */
  heardMs(wallMs: number): number {
    if (this.anchorWallMs === undefined) return 0;
    const extrapolated = this.anchorPosMs + Math.max(0, wallMs - this.anchorWallMs);
    return Math.max(this.confirmedMs, Math.min(this.sentMs, extrapolated));
  }

  /** True while queued audio has not been confirmed as played. */
  hasUnplayedAudio(): boolean {
    return this.confirmedMs < this.queuedMs;
  }

  /** Every mark has been echoed: the caller heard the whole reply. */
  get fullyPlayed(): boolean {
    return this.segments.length > 0 && this.segments.every((s) => s.markName === undefined || s.heardLogged) && !this.hasUnplayedAudio();
  }

  get totalQueuedMs(): number {
    return this.queuedMs;
  }

  /** Full text of everything queued so far. */
  fullText(): string {
    return this.segments.map((s) => s.text).join(' ');
  }

  /**
   * The text heard up to `positionMs`: whole sentences before it, and of the sentence playing
   * then, the share of its words proportional to the share of its audio played.
   */
  heardText(positionMs: number): string {
    const parts: string[] = [];
    for (const s of this.segments) {
      if (s.endMs <= positionMs) {
        parts.push(s.text);
        continue;
      }
      if (s.startMs < positionMs && s.endMs > s.startMs) {
        const words = s.text.split(/\s+/).filter(Boolean);
        const share = (positionMs - s.startMs) / (s.endMs - s.startMs);
        const n = Math.floor(words.length * share);
        if (n > 0) parts.push(words.slice(0, n).join(' '));
      }
      break;
    }
    return parts.join(' ');
  }
}
