/**
 * Puts a recorder between a carrier transport and the voice session: inbound frames, outbound
 * frames and clears pass through to the recorder on their way, and the recorder is closed when
 * the media stream ends. The wrappers forward every call unchanged and allocate nothing per frame.
 */
import type { AudioFrame } from '../audio/frame.js';
import type { CallRecording } from '../store/types.js';
import type { MediaHandler, MediaTransport } from '../transports/types.js';

/** What the tap needs from a recorder (StereoRecorder implements it). Implementations must not throw. */
export interface RecordingSink {
  inbound(frame: AudioFrame): void;
  outbound(frame: AudioFrame): void;
  clear(): void;
  /** Finishes the file; null when nothing usable was recorded. */
  close(): Promise<CallRecording | null>;
}

export interface RecordingTap {
  /** Give this to the voice session instead of the carrier transport. */
  readonly transport: MediaTransport;
  /** Give this to the carrier transport instead of the voice session. */
  readonly handler: MediaHandler;
  /**
   * Settles after the stream ended and the file was closed: the metadata to store with
   * `store.calls.update(callId, { recording })`, or null when nothing was recorded. Never rejects.
   */
  readonly recording: Promise<CallRecording | null>;
}

class TappedTransport implements MediaTransport {
  constructor(
    private readonly inner: MediaTransport,
    private readonly sink: RecordingSink,
  ) {}

  get sampleRateHz(): number {
    return this.inner.sampleRateHz;
  }

  play(frame: AudioFrame): void {
    this.sink.outbound(frame);
    this.inner.play(frame);
  }

  mark(name: string): void {
    this.inner.mark(name);
  }

  clear(): void {
    this.sink.clear();
    this.inner.clear();
  }

  hangup(reason: string): void {
    this.inner.hangup(reason);
  }
}

class TappedHandler implements MediaHandler {
  private ended = false;

  constructor(
    private readonly inner: MediaHandler,
    private readonly sink: RecordingSink,
    private readonly settle: (r: CallRecording | null) => void,
  ) {}

  onStart(): void {
    this.inner.onStart();
  }

  onAudio(frame: AudioFrame, receivedAtMs: number): void {
    this.sink.inbound(frame);
    this.inner.onAudio(frame, receivedAtMs);
  }

  onDtmf(digit: string): void {
    this.inner.onDtmf(digit);
  }

  onMark(name: string, atMs: number): void {
    this.inner.onMark(name, atMs);
  }

  onAudioSent(durationMs: number, atMs: number, samples?: Int16Array): void {
    this.inner.onAudioSent(durationMs, atMs, samples);
  }

  onEnd(reason: string): void {
    if (this.ended) return;
    this.ended = true;
    try {
      this.inner.onEnd(reason);
    } finally {
      // The session is done with the transport; whatever it queued after this was never heard.
      this.sink.close().then(this.settle, () => this.settle(null));
    }
  }
}

/**
 * Wraps `transport` and `handler` so `recorder` sees the call's audio.
 * @param handler the voice session, or a function building it from the wrapped transport (the
 *   session usually needs its transport at construction, before it can itself be wrapped).
 */
export function tapForRecording(
  transport: MediaTransport,
  handler: MediaHandler | ((transport: MediaTransport) => MediaHandler),
  recorder: RecordingSink,
): RecordingTap {
  let settle!: (r: CallRecording | null) => void;
  const recording = new Promise<CallRecording | null>((resolve) => {
    settle = resolve;
  });
  const tappedTransport = new TappedTransport(transport, recorder);
  let inner: MediaHandler;
  try {
    inner = typeof handler === 'function' ? handler(tappedTransport) : handler;
  } catch (err) {
    // No call will run: release the file (nothing was recorded, so it is removed).
    void recorder.close();
    throw err;
  }
  return { transport: tappedTransport, handler: new TappedHandler(inner, recorder, settle), recording };
}
