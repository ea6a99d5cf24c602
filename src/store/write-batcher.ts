import type { Store, StoreRepos } from './store.js';

interface QueuedWrite {
  readonly write: (repos: StoreRepos) => Promise<void>;
  readonly onError: (err: Error) => void;
  readonly done: () => void;
}

/**
 * Applies fire-and-forget writes (call records: turns as they start and as they are heard, events)
 * in batches: everything queued during one event-loop turn runs, in queue order, in one transaction
 * committed when the turn ends. Under load a few hundred such writes a second arrive from many
 * calls; one commit each wrote their pages to the WAL page by page and filled it fast enough to
 * checkpoint on the event loop every second or two. Batched, pages they share are written once.
 *
 * Each write still succeeds or fails alone: a write that throws (a constraint) is reported to its
 * own `onError` and the rest of the batch commits (SQLite undoes only the failed statement). If the
 * commit itself fails, every write of the batch is reported. Batches run one after another, so
 * writes apply in the order they were queued. Writes queued while a batch runs form the next one.
 */
export class WriteBatcher {
  #queue: QueuedWrite[] = [];
  #scheduled = false;
  #running: Promise<void> = Promise.resolve();

  constructor(private readonly store: Pick<Store, 'batch'>) {}

  /** Queues a write; resolves once it is committed or has failed (reported to `onError`). Never rejects. */
  enqueue(write: (repos: StoreRepos) => Promise<void>, onError: (err: Error) => void): Promise<void> {
    return new Promise<void>((done) => {
      this.#queue.push({ write, onError, done });
      if (!this.#scheduled) {
        this.#scheduled = true;
        setImmediate(() => {
          this.#running = this.#running.then(() => this.#runBatch());
        });
      }
    });
  }

  /** Resolves once everything queued so far is committed or has failed (batches run in order). */
  flush(): Promise<void> {
    return this.enqueue(async () => undefined, () => undefined);
  }

  async #runBatch(): Promise<void> {
    this.#scheduled = false;
    const batch = this.#queue;
    this.#queue = [];
    if (batch.length === 0) return;
    const failures = new Map<QueuedWrite, Error>();
    try {
      await this.store.batch(async (repos) => {
        for (const w of batch) {
          try {
            await w.write(repos);
          } catch (err) {
            failures.set(w, err as Error);
          }
        }
      });
    } catch (err) {
      for (const w of batch) if (!failures.has(w)) failures.set(w, err as Error);
    }
    for (const w of batch) {
      const err = failures.get(w);
      if (err !== undefined) w.onError(err);
      w.done();
    }
  }
}
