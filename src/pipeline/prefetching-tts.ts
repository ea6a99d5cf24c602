import type { AudioFrame } from '../audio/frame.js';
import type { CallOptions, TtsProvider } from '../providers/types.js';
import { iterate } from './channel.js';

/** Most audio one prefetch keeps (20 ms frames): a minute. Past it the prefetch is given up. */
const MAX_PREFETCH_FRAMES = 3000;

/**
 * A call's TTS that can start one sentence before anyone asks for it. An interrupted reply may
 * resume (the caller only said "uh-huh", or nothing), and the resumption begins with the rest of
 * the interrupted sentence: synthesising it while the interruption is being judged lets the agent
 * go on as soon as the decision is made, instead of one TTS round trip later (150 ms and more with
 * a cloud voice). The next request for exactly that text takes the prefetched audio (and whatever
 * is still coming); any other request, or `cancel`, discards it. Characters synthesised for a
 * prefetch nobody used are reported to `onUnused`, so usage metering stays true.
 */
export class PrefetchingTts implements TtsProvider {
  readonly name: string;
  readonly sampleRateHz: number;
  private pending: Prefetch | undefined;

  constructor(
    private readonly inner: TtsProvider,
    private readonly onUnused: (characters: number) => void = () => {},
  ) {
    this.name = inner.name;
    this.sampleRateHz = inner.sampleRateHz;
  }

  /** Starts synthesising `text` now, replacing an earlier prefetch. */
  prefetch(text: string): void {
    this.cancel();
    if (text.trim() === '') return;
    this.pending = new Prefetch(this.inner, text);
  }

  /** Discards the prefetch, if one is waiting. */
  cancel(): void {
    const p = this.pending;
    if (!p) return;
    this.pending = undefined;
    p.abort.abort();
    this.onUnused(p.text.length);
  }

  prepare(): void {
    this.inner.prepare?.();
  }

  close(): Promise<void> {
    this.cancel();
    return this.inner.close?.() ?? Promise.resolve();
  }

  async *synthesize(text: AsyncIterable<string>, o: CallOptions): AsyncIterable<AudioFrame> {
    let full = '';
    for await (const chunk of text) full += chunk;
    const p = this.pending;
    if (p && p.text === full && !p.overflowed) {
      this.pending = undefined;
      yield* p.take(o.signal);
      return;
    }
    this.cancel();
    yield* this.inner.synthesize(iterate(full), o);
  }
}

/** One sentence being synthesised ahead of its request: frames are kept until someone takes them. */
class Prefetch {
  readonly abort = new AbortController();
  private readonly frames: AudioFrame[] = [];
  private done = false;
  private error: unknown;
  overflowed = false;
  /** Taken by a request: from then on nothing is capped, the reader consumes as it comes. */
  private taken = false;
  /** Wakes the reader waiting for the next frame. */
  private wake: (() => void) | undefined;

  constructor(
    inner: TtsProvider,
    readonly text: string,
  ) {
    void this.run(inner);
  }

  private async run(inner: TtsProvider): Promise<void> {
    try {
      for await (const f of inner.synthesize(iterate(this.text), { signal: this.abort.signal })) {
        if (!this.taken && this.frames.length >= MAX_PREFETCH_FRAMES) {
          this.overflowed = true;
          this.abort.abort();
          break;
        }
        this.frames.push(f);
        this.wake?.();
      }
    } catch (err) {
      if (!this.abort.signal.aborted) this.error = err;
    } finally {
      this.done = true;
      this.wake?.();
    }
  }

  /** The audio so far, then the rest as it comes; stops (and stops the synthesis) when `signal` aborts. */
  async *take(signal: AbortSignal): AsyncIterable<AudioFrame> {
    this.taken = true;
    const stop = (): void => this.abort.abort();
    signal.addEventListener('abort', stop, { once: true });
    try {
      for (let i = 0; ; ) {
        if (signal.aborted) return;
        if (i < this.frames.length) {
          yield this.frames[i++]!;
          continue;
        }
        if (this.done) {
          if (this.error !== undefined) throw this.error;
          return;
        }
        await new Promise<void>((resolve) => {
          this.wake = resolve;
        });
        this.wake = undefined;
      }
    } finally {
      signal.removeEventListener('abort', stop);
    }
  }
}
