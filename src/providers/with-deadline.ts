import { ProviderError } from './types.js';

/**
 * Runs `start` with a child AbortSignal and fails with a retryable ProviderError when its first item
 * does not arrive within `firstItemMs` — the "accepted but silent" stall. The stalled work is aborted.
 */
export async function* firstItemWithin<T>(
  providerName: string,
  start: (signal: AbortSignal) => AsyncIterable<T>,
  outer: AbortSignal,
  firstItemMs: number,
): AsyncIterable<T> {
  const child = new AbortController();
  const onAbort = (): void => child.abort();
  outer.addEventListener('abort', onAbort, { once: true });
  const it = start(child.signal)[Symbol.asyncIterator]();
  try {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), firstItemMs);
    });
    const firstNext = it.next();
    firstNext.catch(() => {}); // observed below, or abandoned after a timeout
    const first = await Promise.race([firstNext, deadline]);
    clearTimeout(timer);
    if (first === 'timeout') {
      child.abort();
      void it.return?.()?.catch(() => {});
      throw new ProviderError(providerName, `no output within ${firstItemMs} ms`, true);
    }
    if (first.done) return;
    yield first.value;
    for (;;) {
      const r = await it.next();
      if (r.done) return;
      yield r.value;
    }
  } finally {
    outer.removeEventListener('abort', onAbort);
    child.abort();
  }
}
