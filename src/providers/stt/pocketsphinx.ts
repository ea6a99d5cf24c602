/**
 * Local, offline STT: pocketsphinx decoding in the shared PocketsphinxEngine's worker threads.
 *
 * One instance per call. The decoder is leased lazily on the first utterance and kept for the call's
 * lifetime (ps_init is far too slow to pay per turn); close() hands it back to the engine's warm pool.
 * Audio at any rate the resampler supports is accepted; 8 kHz telephone audio is upsampled to the
 * model's 16 kHz (the en-us model has no 8 kHz variant installed).
 */
import type { AudioFrame } from '../../audio/frame.js';
import { StreamingResampler } from '../../audio/resampler.js';
import { ProviderError, type CallOptions, type SttProvider, type TranscriptEvent } from '../types.js';
import type { DecoderHandle, PocketsphinxEngine } from './pocketsphinx-engine.js';
import { pumpUtterance, stopUtterance, type UtteranceSlot } from './utterance-pump.js';

const PROVIDER = 'pocketsphinx';

/**
 * Ask for a partial hypothesis after this much new audio: often enough for barge-in / UI feedback,
 * rare enough that ps_get_hyp's backtrace stays a small fraction of decode time.
 */
const PARTIAL_INTERVAL_MS = 200;

/**
 * Per-call options. None are needed yet (model and pool settings live on the engine); accepted so
 * call sites and provider config can grow without a signature change.
 */
export type PocketsphinxSttOptions = Record<string, never>;

/**
 * Turns a raw pocketsphinx hypothesis into transcript text: lowercase, without fillers/markers such as
 * `<s>`, `</s>`, `<sil>`, `[noise]`, `++breath++` and alternate-pronunciation suffixes like `(2)`.
 */
export function cleanHypothesis(raw: string): string {
  return raw
    .split(/\s+/)
    .filter((w) => w.length > 0 && !/^(<[^>]*>|\[[^\]]*\]|\+\+.*\+\+)$/.test(w))
    .map((w) => w.replace(/\(\d+\)$/, '').toLowerCase())
    .filter((w) => w.length > 0)
    .join(' ');
}

export class PocketsphinxStt implements SttProvider {
  readonly name = PROVIDER;
  private decoder: Promise<DecoderHandle> | undefined;
  /** The utterance currently using the decoder; its pump never rejects. */
  private readonly slot: UtteranceSlot = { current: undefined };
  private closed = false;

  constructor(
    private readonly engine: PocketsphinxEngine,
    _options: PocketsphinxSttOptions = {},
  ) {}

  async *transcribe(audio: AsyncIterable<AudioFrame>, o: CallOptions): AsyncIterable<TranscriptEvent> {
    if (this.closed) throw new ProviderError(PROVIDER, 'transcribe() after close()', false);
    yield* pumpUtterance(PROVIDER, (signal, emit) => this.runUtterance(audio, signal, emit), o.signal, this.slot);
  }

  /** Leases the call's decoder now: starting one takes ~330 ms, better spent during the greeting. */
  prepare(): void {
    if (this.closed || this.decoder) return;
    this.acquire().catch(() => undefined);
  }

  /** Releases the decoder to the engine's pool (aborting any utterance in progress). Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await stopUtterance(this.slot);
    const decoder = this.decoder;
    this.decoder = undefined;
    if (decoder) (await decoder.catch(() => undefined))?.release();
  }

  /** The call's decoder: leased on first use, kept across utterances, replaced if its worker died. */
  private async acquire(): Promise<DecoderHandle> {
    const current = this.decoder ? await this.decoder.catch(() => undefined) : undefined;
    if (current?.usable) return current;
    current?.release();
    if (this.closed) throw new ProviderError(PROVIDER, 'provider closed', false);
    const leased = this.engine.acquire();
    this.decoder = leased;
    // A failed lease is not cached: the next utterance may find capacity again.
    leased.catch(() => {
      if (this.decoder === leased) this.decoder = undefined;
    });
    return leased;
  }

  /**
   * Feeds one utterance to the decoder; emits partials as they change and one final unless aborted.
   *
   * The per-frame path is `await frames.next()` and a feed: no promise race per frame. Abort is raced
   * once against the whole utterance instead, so it still ends the utterance at once while the audio
   * source is stalled; the stream, when the source finally answers, sees `stopped` and leaves.
   */
  private async runUtterance(audio: AsyncIterable<AudioFrame>, signal: AbortSignal, emit: (ev: TranscriptEvent) => void): Promise<void> {
    if (signal.aborted) return;
    /** Set once the utterance is over (aborted or done): the stream must stop touching the decoder. */
    let stopped = false;
    let onAbort: () => void = () => undefined;
    const aborted = new Promise<void>((resolve) => {
      onAbort = (): void => {
        stopped = true;
        resolve();
      };
    });
    signal.addEventListener('abort', onAbort, { once: true });

    const modelRateHz = this.engine.modelSampleRateHz;
    const partialEverySamples = (modelRateHz * PARTIAL_INTERVAL_MS) / 1000;
    let handle: DecoderHandle | undefined;
    let resampler: StreamingResampler | undefined;
    let sinceLastPartial = 0;
    let lastPartial = '';
    // Opened on the first frame, whose rate tells the engine which CMN prior fits this channel.
    let started = false;
    /** endUtterance was sent: the decoder closes the utterance itself, nothing to cancel. */
    let ending = false;
    let cancelled = false;
    /** Cancels the decoder's open utterance, once. */
    const cancel = async (): Promise<void> => {
      if (!started || cancelled) return;
      cancelled = true;
      await handle?.cancelUtterance().catch(() => undefined);
    };

    const feed = (h: DecoderHandle, samples: Int16Array, owned: boolean): void => {
      if (samples.length === 0) return;
      // Counted before feeding: a transferred buffer is detached (length 0) afterwards.
      sinceLastPartial += samples.length;
      h.feed(samples, { transfer: owned });
      // Paced by audio, not wall time: the worker answers in order, so a decoder that is behind still
      // reports each 200 ms step, and results do not depend on how fast audio arrived.
      if (sinceLastPartial < partialEverySamples) return;
      sinceLastPartial = 0;
      h.partial().then(
        (raw) => {
          const text = cleanHypothesis(raw);
          if (stopped || text.length === 0 || text === lastPartial) return;
          lastPartial = text;
          emit({ kind: 'partial', text });
        },
        () => undefined, // the same failure surfaces from endUtterance()
      );
    };

    const frames = audio[Symbol.asyncIterator]();
    /** The utterance itself; every `stopped` check follows an await, since only then can it have changed. */
    const stream = async (): Promise<void> => {
      const h = await this.acquire();
      if (stopped) return;
      handle = h;
      for (;;) {
        const next = await frames.next();
        if (stopped) return;
        if (next.done === true) break;
        const frame = next.value;
        if (!started) {
          h.startUtterance({ inputRateHz: frame.sampleRateHz });
          started = true;
        }
        if (frame.sampleRateHz === modelRateHz) {
          resampler?.flush(); // rate switched back mid-utterance; drop the other rate's filter tail
          resampler = undefined;
          feed(h, frame.samples, false); // frames are shared and immutable: copy, never transfer
        } else {
          if (resampler?.fromHz !== frame.sampleRateHz) resampler = new StreamingResampler(frame.sampleRateHz, modelRateHz);
          feed(h, resampler.process(frame.samples), true); // fresh array we own: transfer it
        }
      }
      let text = '';
      if (started) {
        if (resampler) feed(h, resampler.flush(), true);
        ending = true;
        text = cleanHypothesis((await h.endUtterance()).text);
      }
      if (stopped) return;
      stopped = true;
      emit({ kind: 'final', text });
    };

    try {
      // The only race of the utterance. A stream still parked on the audio source after abort settles
      // later unobserved; its promise is handled here, so a late rejection is not unhandled.
      await Promise.race([stream(), aborted]);
    } catch (err) {
      stopped = true;
      await cancel();
      throw err;
    } finally {
      stopped = true;
      signal.removeEventListener('abort', onAbort);
      if (signal.aborted) {
        if (!ending) await cancel();
        // Don't wait for a producer blocked in next(); just tell it we're done.
        void Promise.resolve(frames.return?.()).catch(() => undefined);
      }
    }
  }
}
