import type { Store, StoreRepos, TurnLatency, TurnRole } from '../store/store.js';
import { newTurnId } from '../store/store.js';
import { WriteBatcher } from '../store/write-batcher.js';

/** One batcher per store, shared by every call recorded into it. */
const batchers = new WeakMap<Store, WriteBatcher>();

function batcherFor(store: Store): WriteBatcher {
  let b = batchers.get(store);
  if (b === undefined) {
    b = new WriteBatcher(store);
    batchers.set(store, b);
  }
  return b;
}

export interface RecorderLog {
  error(obj: Record<string, unknown>, msg: string): void;
}

/**
 * Resolves once every call-record write queued into `store` so far is committed (or has failed and
 * been logged). For shutdown: the store must not close under writes still waiting for their batch.
 */
export function flushCallRecords(store: Store): Promise<void> {
  return batchers.get(store)?.flush() ?? Promise.resolve();
}

/**
 * Writes one call's record as it happens: turns when they start and as they are heard, events
 * at once. Writes are applied in order, committed with the other calls' writes of the same
 * event-loop turn (WriteBatcher), and never block the audio path; a failing write is logged and
 * the call goes on.
 */
export class CallRecorder {
  private last: Promise<void> = Promise.resolve();
  private seq = 0;
  private readonly batcher: WriteBatcher;

  constructor(
    store: Store,
    readonly callId: string,
    private readonly log: RecorderLog,
  ) {
    this.batcher = batcherFor(store);
  }

  private enqueue(what: string, write: (repos: StoreRepos) => Promise<void>): void {
    this.last = this.batcher.enqueue(write, (err) => {
      this.log.error({ callId: this.callId, err: err.message, what }, 'call record write failed');
    });
  }

  /** Starts a turn now; returns its id for later updates. */
  startTurn(role: TurnRole, text: string, startedAtMs: number, latency: TurnLatency = {}, endedAtMs?: number): string {
    const id = newTurnId();
    const seq = this.seq++;
    this.enqueue('turn.insert', (r) =>
      r.turns.insert({ id, callId: this.callId, seq, role, text, startedAtMs, endedAtMs: endedAtMs ?? null, latency }),
    );
    return id;
  }

  updateTurn(id: string, patch: { text?: string; endedAtMs?: number; interrupted?: boolean; latency?: TurnLatency }): void {
    this.enqueue('turn.update', (r) => r.turns.update(id, patch));
  }

  event(type: string, data: Record<string, unknown> = {}, atMs = Date.now()): void {
    this.enqueue(`event ${type}`, (r) => r.events.append({ callId: this.callId, atMs, type, data }));
  }

  metadata(metadata: Record<string, unknown>): void {
    this.enqueue('call.metadata', (r) => r.calls.update(this.callId, { metadata }));
  }

  end(status: 'completed' | 'failed' | 'ended_abnormally', endReason: string, endedAtMs = Date.now()): void {
    this.enqueue('call.end', (r) => r.calls.end(this.callId, { status, endReason, endedAtMs }));
  }

  /** Resolves when every write queued so far has been applied. */
  flush(): Promise<void> {
    return this.last;
  }
}
