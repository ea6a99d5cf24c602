import { ProviderError, type TranscriptEvent } from '../types.js';

/**
 * Abort reason when an utterance's work is stopped (it finished, the consumer left, or close()). Made once:
 * `abort()` without a reason builds a DOMException, stack trace included, on every utterance. Still an
 * AbortError, so anything that tells aborts apart by name keeps working; nothing here reads the reason.
 */
const UTTERANCE_STOPPED = new DOMException('utterance stopped', 'AbortError');

/** The utterance a provider is transcribing: stop it, and wait until it has wound down. */
export interface UtteranceRun {
  readonly stop: AbortController;
  readonly done: Promise<void>;
}

/** Where a provider keeps its one running utterance (one at a time per call). */
export interface UtteranceSlot {
  current: UtteranceRun | undefined;
}

/**
 * Runs one utterance's work (`run`, which emits transcript events) independently of how fast the
 * consumer pulls, and yields its events in order. Ends quietly when aborted (by `outer`, by the
 * consumer leaving, or by the provider's close() through the slot); otherwise rethrows the work's
 * failure unchanged once its events are consumed.
 */
export async function* pumpUtterance(
  provider: string,
  run: (signal: AbortSignal, emit: (ev: TranscriptEvent) => void) => Promise<void>,
  outer: AbortSignal,
  slot: UtteranceSlot,
): AsyncGenerator<TranscriptEvent> {
  if (slot.current) throw new ProviderError(provider, 'one utterance at a time per provider', false);
  const queue: TranscriptEvent[] = [];
  let wake: (() => void) | undefined;
  let finished = false;
  let failure: unknown;
  const emit = (ev: TranscriptEvent): void => {
    queue.push(ev);
    wake?.();
  };
  const stop = new AbortController();
  const signal = AbortSignal.any([outer, stop.signal]);
  const done = run(signal, emit)
    .catch((err: unknown) => void (failure = err))
    .finally(() => {
      finished = true;
      wake?.();
    });
  const current: UtteranceRun = { stop, done };
  slot.current = current;
  void done.then(() => {
    if (slot.current === current) slot.current = undefined;
  });
  try {
    for (;;) {
      const ev = queue.shift();
      if (ev) {
        yield ev;
        continue;
      }
      if (finished) break;
      await new Promise<void>((r) => (wake = r));
      wake = undefined;
    }
    if (failure !== undefined && !signal.aborted) throw failure;
  } finally {
    stop.abort(UTTERANCE_STOPPED);
    await done;
  }
}

/** Stops the slot's running utterance, if any, and waits until its work has wound down. */
export async function stopUtterance(slot: UtteranceSlot): Promise<void> {
  const running = slot.current;
  if (!running) return;
  running.stop.abort(UTTERANCE_STOPPED);
  await running.done;
}
