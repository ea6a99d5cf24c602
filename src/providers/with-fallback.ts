import type { AudioFrame } from '../audio/frame.js';
import { frameDurationMs } from '../audio/frame.js';
import { Channel, iterate } from '../pipeline/channel.js';
import type { CircuitBreakers } from './circuit-breaker.js';
import type { CallOptions, ChatRequest, LlmDelta, LlmProvider, SttProvider, TranscriptEvent, TtsProvider } from './types.js';
import { ProviderError } from './types.js';
import { firstItemWithin } from './with-deadline.js';

/** An accepted-but-silent LLM is abandoned after this long without a first token. */
export const LLM_FIRST_TOKEN_TIMEOUT_MS = 1500;
/** An accepted-but-silent TTS is abandoned after this long without first audio. */
export const TTS_FIRST_AUDIO_TIMEOUT_MS = 1000;
/** After the caller's turn ends, a final transcript later than this means the STT is stalled. */
export const STT_FINAL_TIMEOUT_MS = 2000;
/** Average speaking rate used to guess how much of a sentence a dying TTS already said. */
const SPOKEN_MS_PER_CHAR = 65;

export interface FallbackEntry<P> {
  readonly provider: P;
  /** Breaker key: identifies the configured endpoint across calls (kind, provider, base URL, model). */
  readonly key: string;
}

export interface FallbackSwitch {
  readonly kind: 'stt' | 'llm' | 'tts';
  readonly from: string;
  readonly to: string | null;
  readonly reason: string;
}

export interface FallbackOptions {
  readonly breakers: CircuitBreakers;
  /** Every switch, for the call record and metrics. */
  readonly onSwitch?: (s: FallbackSwitch) => void;
  /** Overrides of the first-output deadlines (per kind). */
  readonly firstOutputTimeoutMs?: number;
}

function reasonOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The entry a chain starts with now: the first whose circuit is not open (the last is always tried). */
function firstReady<P>(entries: readonly FallbackEntry<P>[], breakers: CircuitBreakers): FallbackEntry<P> | undefined {
  return entries.find((e, i) => i === entries.length - 1 || !breakers.isOpen(e.key));
}

/**
 * Walks a chain of providers in order, skipping ones whose breaker is open (the last one is always
 * tried: a call never goes without a provider). `attempt` runs one provider and reports whether it
 * produced output before failing (then failing over may be impossible).
 */
async function* walkChain<P extends { readonly name: string }, T>(
  kind: FallbackSwitch['kind'],
  entries: readonly FallbackEntry<P>[],
  o: FallbackOptions,
  signal: AbortSignal,
  attempt: (p: P) => AsyncIterable<T>,
  onPartialFailure: (err: unknown) => 'continue' | 'throw',
): AsyncIterable<T> {
  let lastError: unknown;
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i] as FallbackEntry<P>;
    const next = entries[i + 1];
    const isLast = next === undefined;
    if (!isLast && !o.breakers.allow(e.key)) {
      o.onSwitch?.({ kind, from: e.provider.name, to: next.provider.name, reason: 'circuit open' });
      continue;
    }
    let produced = false;
    try {
      for await (const item of attempt(e.provider)) {
        produced = true;
        yield item;
      }
      o.breakers.recordSuccess(e.key);
      return;
    } catch (err) {
      if (signal.aborted) return;
      o.breakers.recordFailure(e.key);
      lastError = err;
      if (produced && onPartialFailure(err) === 'throw') throw err;
      o.onSwitch?.({ kind, from: e.provider.name, to: next?.provider.name ?? null, reason: reasonOf(err) });
    }
  }
  throw lastError ?? new ProviderError(kind, 'no provider available', true);
}

/**
 * LLM chain. Fails over on errors and first-token stalls. A failure after text was produced is not
 * retried elsewhere (that text may already be spoken); the reply fails instead.
 */
export class FallbackLlm implements LlmProvider {
  readonly name: string;
  constructor(
    private readonly entries: readonly FallbackEntry<LlmProvider>[],
    private readonly o: FallbackOptions,
  ) {
    this.name = entries.map((e) => e.provider.name).join('>');
  }

  prepare(): void {
    firstReady(this.entries, this.o.breakers)?.provider.prepare?.();
  }

  complete(req: ChatRequest, c: CallOptions): AsyncIterable<LlmDelta> {
    const ms = this.o.firstOutputTimeoutMs ?? LLM_FIRST_TOKEN_TIMEOUT_MS;
    return walkChain(
      'llm',
      this.entries,
      this.o,
      c.signal,
      (p) => firstItemWithin(p.name, (signal) => usageAfterOutput(p.complete(req, { signal })), c.signal, ms),
      () => 'throw',
    );
  }
}

/**
 * Holds back `usage` deltas that come before the first text or tool call, releasing them after it
 * (or at the end): metering is not output, so it must not satisfy the first-token deadline nor
 * count as "already produced" for fail-over. Usage of an attempt that then fails is dropped.
 */
async function* usageAfterOutput(deltas: AsyncIterable<LlmDelta>): AsyncIterable<LlmDelta> {
  const held: LlmDelta[] = [];
  let output = false;
  for await (const d of deltas) {
    if (!output && d.kind === 'usage') {
      held.push(d);
      continue;
    }
    yield d;
    if (!output) {
      output = true;
      yield* held.splice(0);
    }
  }
  yield* held;
}

/** Drops the words a failed TTS is estimated to have spoken already (by audio duration). */
export function remainingAfter(text: string, spokenMs: number): string {
  const words = text.split(/\s+/).filter(Boolean);
  const share = Math.min(1, spokenMs / Math.max(1, text.length * SPOKEN_MS_PER_CHAR));
  return words.slice(Math.floor(words.length * share)).join(' ');
}

/**
 * TTS chain. Fails over on errors and first-audio stalls; a provider that dies mid-sentence is
 * continued by the next from about the word it had reached.
 */
export class FallbackTts implements TtsProvider {
  readonly name: string;
  readonly sampleRateHz: number;
  constructor(
    private readonly entries: readonly FallbackEntry<TtsProvider>[],
    private readonly o: FallbackOptions,
  ) {
    this.name = entries.map((e) => e.provider.name).join('>');
    this.sampleRateHz = entries[0]?.provider.sampleRateHz ?? 8000;
  }

  async *synthesize(text: AsyncIterable<string>, c: CallOptions): AsyncIterable<AudioFrame> {
    let remaining = '';
    for await (const t of text) remaining += t;
    remaining = remaining.trim();
    if (!remaining) return;
    const ms = this.o.firstOutputTimeoutMs ?? TTS_FIRST_AUDIO_TIMEOUT_MS;
    let spokenMs = 0;
    let current = remaining;
    yield* walkChain(
      'tts',
      this.entries,
      this.o,
      c.signal,
      (p) => {
        current = remainingAfter(current, spokenMs);
        spokenMs = 0;
        return (async function* () {
          if (!current) return;
          for await (const f of firstItemWithin(p.name, (signal) => p.synthesize(iterate(current), { signal }), c.signal, ms)) {
            spokenMs += frameDurationMs(f);
            yield f;
          }
        })();
      },
      () => 'continue',
    );
  }

  /** Readies the provider the first sentence will start with: the first whose circuit is not open. */
  prepare(): void {
    firstReady(this.entries, this.o.breakers)?.provider.prepare?.();
  }

  /** Closes every provider of the chain that holds per-call resources. Idempotent when they are. */
  async close(): Promise<void> {
    await Promise.all(this.entries.map((e) => e.provider.close?.()));
  }
}

/**
 * STT chain. The utterance's audio is kept so that a provider failing mid-utterance (or stalling on
 * the final) is replaced by the next one, which hears the whole utterance from the start.
 */
export class FallbackStt implements SttProvider {
  readonly name: string;
  constructor(
    private readonly entries: readonly FallbackEntry<SttProvider>[],
    private readonly o: FallbackOptions,
  ) {
    this.name = entries.map((e) => e.provider.name).join('>');
  }

  async *transcribe(audio: AsyncIterable<AudioFrame>, c: CallOptions): AsyncIterable<TranscriptEvent> {
    const frames: AudioFrame[] = [];
    const listeners = new Set<() => void>();
    let inputEnded = false;
    const notify = (): void => {
      for (const l of listeners) l();
    };
    const inputDone = (async () => {
      try {
        for await (const f of audio) {
          frames.push(f);
          notify();
        }
      } finally {
        inputEnded = true;
        notify();
      }
    })().catch(() => {});
    /** The utterance so far, then live, for one provider attempt. */
    const replay = (): AsyncIterable<AudioFrame> => {
      const ch = new Channel<AudioFrame>(1 << 16);
      let sent = 0;
      const flush = (): void => {
        while (sent < frames.length) ch.push(frames[sent++] as AudioFrame);
        if (inputEnded) {
          ch.close();
          listeners.delete(flush);
        }
      };
      listeners.add(flush);
      flush();
      return ch;
    };
    const finalMs = this.o.firstOutputTimeoutMs ?? STT_FINAL_TIMEOUT_MS;
    const withFinalDeadline = async function* (name: string, events: AsyncIterable<TranscriptEvent>): AsyncIterable<TranscriptEvent> {
      const it = events[Symbol.asyncIterator]();
      let timer: NodeJS.Timeout | undefined;
      // Armed when the caller's turn ends, however long the provider has been busy before that.
      const deadline = inputDone.then(
        () =>
          new Promise<'timeout'>((resolve) => {
            timer = setTimeout(() => resolve('timeout'), finalMs);
            timer.unref();
          }),
      );
      try {
        for (;;) {
          const next = it.next();
          next.catch(() => {});
          const r = await Promise.race([next, deadline]);
          if (r === 'timeout') {
            void it.return?.()?.catch(() => {});
            throw new ProviderError(name, `no final transcript within ${finalMs} ms of the turn's end`, true);
          }
          if (r.done) return;
          yield r.value;
        }
      } finally {
        clearTimeout(timer);
      }
    };
    yield* walkChain(
      'stt',
      this.entries,
      this.o,
      c.signal,
      (p) =>
        (async function* () {
          // Each attempt gets its own signal so a stalled provider is stopped when it is abandoned.
          const attempt = new AbortController();
          const onAbort = (): void => attempt.abort();
          c.signal.addEventListener('abort', onAbort, { once: true });
          try {
            yield* withFinalDeadline(p.name, p.transcribe(replay(), { signal: attempt.signal }));
          } finally {
            c.signal.removeEventListener('abort', onAbort);
            attempt.abort();
          }
        })(),
      () => 'continue',
    );
  }

  /** Prepares the provider the first utterance will start with: the first whose circuit is not open. */
  prepare(sampleRateHz: number): void {
    firstReady(this.entries, this.o.breakers)?.provider.prepare?.(sampleRateHz);
  }

  async close(): Promise<void> {
    await Promise.all(this.entries.map((e) => e.provider.close()));
  }
}
