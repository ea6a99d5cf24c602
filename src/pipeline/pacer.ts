/**
 * Sends queued outbound audio at real time, a little ahead of playback. One timer serves every
 * call on the process (hundreds of per-call timers would cost more than the work they do).
 * Keeping only `leadMs` buffered at the carrier makes barge-in and heard-text estimates precise.
 */
export interface PacedStream {
  /** Sends the next queued item; returns the audio ms it carried (0 for a mark), or -1 if empty. */
  sendNext(nowMs: number): number;
  /** Whether anything is queued. */
  readonly hasQueued: boolean;
}

/** How far ahead of real time audio is sent: covers network jitter without bloating the carrier's buffer. */
export const PACER_LEAD_MS = 160;
/** Timer period; frames are 20 ms, so 10 ms keeps sends within half a frame of their due time. */
export const PACER_TICK_MS = 10;

interface StreamClock {
  /** Wall time at which `sentMs` of audio was due. */
  anchorWallMs: number;
  sentMs: number;
  idle: boolean;
}

export class Pacer {
  private readonly streams = new Map<PacedStream, StreamClock>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly leadMs = PACER_LEAD_MS,
    private readonly now: () => number = () => performance.now(),
  ) {}

  add(stream: PacedStream): void {
    this.streams.set(stream, { anchorWallMs: 0, sentMs: 0, idle: true });
  }

  remove(stream: PacedStream): void {
    this.streams.delete(stream);
    if (this.streams.size === 0) this.stop();
  }

  /** The carrier's buffer was emptied (clear): the next audio starts a new real-time run. */
  reset(stream: PacedStream): void {
    const clock = this.streams.get(stream);
    if (clock) clock.idle = true;
  }

  /** Something was queued on `stream`: make sure the clock runs, and send what is due now. */
  wake(stream: PacedStream): void {
    this.pump(stream, this.now());
    if (!this.timer) {
      this.timer = setInterval(() => this.tick(), PACER_TICK_MS);
      this.timer.unref();
    }
  }

  private tick(): void {
    const nowMs = this.now();
    let anyQueued = false;
    for (const s of this.streams.keys()) {
      this.pump(s, nowMs);
      anyQueued ||= s.hasQueued;
    }
    if (!anyQueued) this.stop();
  }

  private pump(s: PacedStream, nowMs: number): void {
    const clock = this.streams.get(s);
    if (!clock) return;
    if (clock.idle) {
      // Playback restarts from an empty buffer: real time runs from now.
      clock.idle = false;
      clock.anchorWallMs = nowMs;
      clock.sentMs = 0;
    }
    const dueMs = nowMs - clock.anchorWallMs + this.leadMs;
    while (clock.sentMs < dueMs) {
      const ms = s.sendNext(nowMs);
      if (ms < 0) {
        // Underrun: if the queue stays empty past what was sent, the next audio starts a new run.
        if (nowMs - clock.anchorWallMs >= clock.sentMs) clock.idle = true;
        break;
      }
      clock.sentMs += ms;
    }
  }

  private stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
