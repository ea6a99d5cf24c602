import type { Store, TurnLatency, TurnRole } from '../store/store.js';
import { newTurnId } from '../store/store.js';

export interface RecorderLog {
  error(obj: Record<string, unknown>, msg: string): void;
}

/**
 * Writes one call's record as it happens: turns when they start and as they are heard, events
 * at once. Writes are applied in order through one queue per call and never block the audio
 * path; a failing write is logged and the call goes on.
 */
export class CallRecorder {
  private chain: Promise<void> = Promise.resolve();
  private seq = 0;

  constructor(
    private readonly store: Store,
    readonly callId: string,
    private readonly log: RecorderLog,
  ) {}

  private enqueue(what: string, write: () => Promise<void>): void {
    this.chain = this.chain.then(write).catch((err: unknown) => {
      this.log.error({ callId: this.callId, err: (err as Error).message, what }, 'call record write failed');
    });
  }

  /** Starts a turn now; returns its id for later updates. */
  startTurn(role: TurnRole, text: string, startedAtMs: number, latency: TurnLatency = {}, endedAtMs?: number): string {
    const id = newTurnId();
    const seq = this.seq++;
    this.enqueue('turn.insert', () =>
      this.store.turns.insert({ id, callId: this.callId, seq, role, text, startedAtMs, endedAtMs: endedAtMs ?? null, latency }),
    );
    return id;
  }

  updateTurn(id: string, patch: { text?: string; endedAtMs?: number; interrupted?: boolean; latency?: TurnLatency }): void {
    this.enqueue('turn.update', () => this.store.turns.update(id, patch));
  }

  event(type: string, data: Record<string, unknown> = {}, atMs = Date.now()): void {
    this.enqueue(`event ${type}`, () => this.store.events.append({ callId: this.callId, atMs, type, data }));
  }

  metadata(metadata: Record<string, unknown>): void {
    this.enqueue('call.metadata', () => this.store.calls.update(this.callId, { metadata }));
  }

  end(status: 'completed' | 'failed' | 'ended_abnormally', endReason: string, endedAtMs = Date.now()): void {
    this.enqueue('call.end', () => this.store.calls.end(this.callId, { status, endReason, endedAtMs }));
  }

  /** Resolves when every write queued so far has been applied. */
  flush(): Promise<void> {
    return this.chain;
  }
}
