/**
 * Sends queued outbound audio at real time, a little ahead of playback. One timer serves every
 * call on the process (hundreds of per-call timers would cost more than the work they do).
 * The carrier holds between `leadMs` and `leadMs + batchMs` of audio: enough to ride out network
 * and event-loop jitter, little enough that heard-text estimates stay close. Audio goes in messages
 * of up to `batchMs` (one message per 20 ms frame would be 50 messages a second per call, the
 * largest per-call cost on a busy server), sent whenever the buffer falls below `leadMs`.
 */
export interface PacedStream {
  /**
   * Sends the next queued item: a mark, or up to `maxMs` of audio (at least one frame) in one
   * message. Returns the audio ms it carried (0 for a mark), or -1 if nothing is queued.
   */
  sendNext(nowMs: number, maxMs: number): number;
  /** Whether anything is queued. */
  readonly hasQueued: boolean;
}

/** Least audio kept ahead of playback at the carrier once a run has started: covers network and event-loop jitter. */
export const PACER_LEAD_MS = 160;
/** Most audio per message: the buffer tops up to at most `PACER_LEAD_MS + PACER_BATCH_MS`. */
export const PACER_BATCH_MS = 80;
/** Timer period; frames are 20 ms, so 10 ms keeps sends within half a frame of their due time. */
export const PACER_TICK_MS = 10;

interface StreamClock {
  /** Wall time at which `sentMs` of audio was due. */
  anchorWallMs: number;
  sentMs: number;
  /** The carrier's buffer was emptied: the next send starts a new real-time run. */
  idle: boolean;
}

/**
 * Only streams with something queued are visited on a tick, so silent calls cost nothing here.
 * A stream leaves that set once drained; when audio comes again, its clock resumes where it was if
 * the carrier is still playing what was sent, and restarts from now if the carrier ran out.
 */
export class Pacer {
  private readonly streams = new Map<PacedStream, StreamClock>();
  /** Streams with queued items, in the order they were woken. */
  private readonly active = new Set<PacedStream>();
  private timer: NodeJS.Timeout | undefined;
  /** When the last tick ran (the timer's or an early one from poll()). */
  private lastTickMs = 0;

  constructor(
    private readonly leadMs = PACER_LEAD_MS,
    private readonly now: () => number = () => performance.now(),
    private readonly batchMs = PACER_BATCH_MS,
  ) {}

  add(stream: PacedStream): void {
    this.streams.set(stream, { anchorWallMs: 0, sentMs: 0, idle: true });
  }

  remove(stream: PacedStream): void {
    this.streams.delete(stream);
    this.active.delete(stream);
    if (this.active.size === 0) this.stop();
  }

  /** The carrier's buffer was emptied (clear): the next audio starts a new real-time run. */
  reset(stream: PacedStream): void {
    const clock = this.streams.get(stream);
    if (clock) clock.idle = true;
  }

  /** Something was queued on `stream`: make sure the clock runs, and send what is due now. */
  wake(stream: PacedStream): void {
    const clock = this.streams.get(stream);
    if (!clock) return;
    this.pump(stream, clock, this.now());
    if (!stream.hasQueued) return;
    this.active.add(stream);
    if (!this.timer) {
      this.lastTickMs = this.now();
      this.timer = setInterval(() => this.tick(), PACER_TICK_MS);
      this.timer.unref();
    }
  }

  /**
   * Runs a tick now if one is overdue. For callers on busy paths (each inbound media message): on a
   * saturated event loop one pass over ready sockets can take longer than a tick, and timers only run
   * between passes, so without this outbound audio would wait behind inbound processing.
   */
  poll(): void {
    if (this.timer === undefined) return;
    const nowMs = this.now();
    if (nowMs - this.lastTickMs >= PACER_TICK_MS) this.tick(nowMs);
  }

  private tick(nowMs = this.now()): void {
    this.lastTickMs = nowMs;
    for (const s of this.active) {
      const clock = this.streams.get(s);
      if (clock) this.pump(s, clock, nowMs);
      if (!clock || !s.hasQueued) this.active.delete(s);
    }
    if (this.active.size === 0) this.stop();
  }

  private pump(s: PacedStream, clock: StreamClock, nowMs: number): void {
    if (clock.idle || nowMs - clock.anchorWallMs >= clock.sentMs) {
      // Playback starts from an empty buffer: real time runs from now.
      clock.idle = false;
      clock.anchorWallMs = nowMs;
      clock.sentMs = 0;
    }
    const dueMs = nowMs - clock.anchorWallMs + this.leadMs;
    while (clock.sentMs < dueMs) {
      const ms = s.sendNext(nowMs, this.batchMs);
      if (ms < 0) break;
      clock.sentMs += ms;
    }
  }

  private stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
