import { type AudioFrame, audioFrame } from '../audio/frame.js';

/**
 * The last `durationMs` of the caller's audio, kept so an utterance's STT also hears the speech that
 * came before voice detection fired. Copied into one ring per call, not kept as frames: holding each
 * inbound frame for a few hundred ms would carry it through young-generation collections into the
 * old generation (tens of thousands of frames a second on a busy server), and those dead frames are
 * what makes full collections frequent. The ring makes every inbound frame die young.
 */
export class PreRoll {
  private ring = new Int16Array(0);
  private rateHz = 0;
  /** Next write position in `ring`. */
  private end = 0;
  /** Samples held (≤ ring.length). */
  private held = 0;

  constructor(private readonly durationMs: number) {}

  /** Audio held, ms. */
  get ms(): number {
    return this.rateHz === 0 ? 0 : (this.held * 1000) / this.rateHz;
  }

  /** Appends a frame's samples, forgetting the oldest beyond `durationMs`. A new rate starts afresh. */
  push(frame: AudioFrame): void {
    if (frame.sampleRateHz !== this.rateHz) {
      this.rateHz = frame.sampleRateHz;
      this.ring = new Int16Array(Math.max(1, Math.round((frame.sampleRateHz * this.durationMs) / 1000)));
      this.end = 0;
      this.held = 0;
    }
    const ring = this.ring;
    let src = frame.samples;
    if (src.length >= ring.length) {
      src = src.subarray(src.length - ring.length);
      ring.set(src);
      this.end = 0;
      this.held = ring.length;
      return;
    }
    const first = Math.min(src.length, ring.length - this.end);
    // Called for every inbound frame: no view is made unless the frame wraps around the ring.
    if (first === src.length) ring.set(src, this.end);
    else {
      ring.set(src.subarray(0, first), this.end);
      ring.set(src.subarray(first), 0);
    }
    this.end = (this.end + src.length) % ring.length;
    this.held = Math.min(ring.length, this.held + src.length);
  }

  /** The audio held, oldest first, as one frame of its own; undefined when there is none. */
  frame(): AudioFrame | undefined {
    if (this.held === 0) return undefined;
    const ring = this.ring;
    const out = new Int16Array(this.held);
    const start = (this.end - this.held + ring.length) % ring.length;
    const first = Math.min(this.held, ring.length - start);
    out.set(ring.subarray(start, start + first), 0);
    if (first < this.held) out.set(ring.subarray(0, this.held - first), first);
    return audioFrame(out, this.rateHz);
  }
}
