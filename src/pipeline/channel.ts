/**
 * The one async primitive of the call path: a bounded single-consumer channel that is also an
 * AsyncIterable. Producers never block: `push` returns false when the buffer is full so the
 * producer decides what to drop (audio is real-time; waiting would only add latency).
 */
export class Channel<T> implements AsyncIterable<T> {
  private readonly buffer: T[] = [];
  private waiter: ((r: IteratorResult<T>) => void) | undefined;
  private closed = false;

  constructor(private readonly capacity = 1024) {}

  /** Queues `item`; false when the channel is closed or full (the item is not queued). */
  push(item: T): boolean {
    if (this.closed) return false;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      w({ value: item, done: false });
      return true;
    }
    if (this.buffer.length >= this.capacity) return false;
    this.buffer.push(item);
    return true;
  }

  /** Ends the stream after the queued items are consumed. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      w({ value: undefined, done: true });
    }
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return {
      next: () => {
        const item = this.buffer.shift();
        if (item !== undefined) return Promise.resolve({ value: item, done: false });
        if (this.closed) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => {
          this.waiter = resolve;
        });
      },
      return: () => {
        this.close();
        this.buffer.length = 0;
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }
}

/** An AsyncIterable of exactly the given items. */
export async function* iterate<T>(...items: T[]): AsyncIterable<T> {
  yield* items;
}
