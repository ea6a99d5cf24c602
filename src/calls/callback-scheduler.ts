/**
 * Places due callbacks as outbound calls. Each poll claims due `scheduled` rows (atomically, so
 * two instances never place the same one), places each with placeOutboundCall, and marks it
 * `placed` or `failed`. Over a quota it is postponed by `quotaRetryDelayMs`, a few times at most.
 */
import type { Logger } from 'pino';
import { ApiError } from '../api/errors.js';
import type { CallbackRow } from '../store/store.js';
import type { TenantConfig } from '../tenants/schema.js';
import { placeOutboundCall, type OutboundDeps } from './outbound.js';

export const CALLBACK_POLL_INTERVAL_MS = 5_000;
export const CALLBACK_QUOTA_RETRY_DELAY_MS = 15 * 60_000;
export const CALLBACK_MAX_QUOTA_RETRIES = 3;
/** Callbacks claimed per poll; the rest wait for the next one. */
const BATCH = 20;

export interface CallbackSchedulerOptions {
  readonly outbound: OutboundDeps;
  readonly tenants: { get(id: string): TenantConfig | undefined };
  readonly log: Pick<Logger, 'info' | 'warn' | 'error'>;
  readonly pollIntervalMs?: number;
  readonly quotaRetryDelayMs?: number;
  readonly maxQuotaRetries?: number;
}

/**
 * Postponements are counted in the row's `error` text ("… (postponed 2 of 3)"): the callbacks
 * table has no attempts column, and the error is where an operator looks anyway.
 */
const POSTPONED = /\(postponed (\d+) of \d+\)$/;

function postponementsOf(row: CallbackRow): number {
  const m = row.error ? POSTPONED.exec(row.error) : null;
  return m ? Number(m[1]) : 0;
}

export class CallbackScheduler {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = true;
  private readonly pollIntervalMs: number;
  private readonly quotaRetryDelayMs: number;
  private readonly maxQuotaRetries: number;
  private readonly now: () => number;

  constructor(private readonly o: CallbackSchedulerOptions) {
    this.pollIntervalMs = o.pollIntervalMs ?? CALLBACK_POLL_INTERVAL_MS;
    this.quotaRetryDelayMs = o.quotaRetryDelayMs ?? CALLBACK_QUOTA_RETRY_DELAY_MS;
    this.maxQuotaRetries = o.maxQuotaRetries ?? CALLBACK_MAX_QUOTA_RETRIES;
    this.now = o.outbound.now ?? Date.now;
  }

  /**
   * Returns callbacks a crashed run left `placing` to `scheduled`, then polls. Run one scheduler
   * per deployment start-up: releasing stale rows while another instance is placing them could
   * place one twice.
   */
  async start(): Promise<void> {
    if (!this.stopped) return;
    this.stopped = false;
    const released = await this.o.outbound.store.callbacks.releaseStale(this.now());
    if (released > 0) this.o.log.warn({ callbacks: released }, 'callbacks left placing by a previous run are scheduled again');
    this.schedule(0);
  }

  /** Stops polling and waits for a poll under way. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** One poll: places every due callback (up to a batch). Returns how many were claimed. */
  async runOnce(): Promise<number> {
    const due = await this.o.outbound.store.callbacks.claimDue(this.now(), BATCH);
    for (const row of due) await this.place(row);
    return due.length;
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.runOnce()
        .then(() => undefined)
        .catch((err: unknown) => this.o.log.error({ err: (err as Error).message }, 'callback poll failed'))
        .finally(() => {
          this.running = undefined;
          this.schedule(this.pollIntervalMs);
        });
    }, delayMs);
    this.timer.unref();
  }

  private async place(row: CallbackRow): Promise<void> {
    const { store } = this.o.outbound;
    const finish = (o: Parameters<typeof store.callbacks.finish>[1]): Promise<void> => store.callbacks.finish(row.id, o);
    const tenant = this.o.tenants.get(row.tenantId);
    if (!tenant) {
      await finish({ status: 'failed', error: 'the tenant no longer exists', nowMs: this.now() });
      return;
    }
    try {
      const call = await placeOutboundCall(this.o.outbound, {
        tenant,
        agentId: row.agentId,
        to: row.toNumber,
        ...(row.fromNumber ? { from: row.fromNumber } : {}),
        variables: { ...row.variables, 'callback.reason': row.reason, 'callback.id': row.id },
        source: 'callback',
        metadata: { callbackId: row.id, ...(row.sourceCallId ? { sourceCallId: row.sourceCallId } : {}) },
      });
      await finish({ status: 'placed', placedCallId: call.id, nowMs: this.now() });
      this.o.log.info({ tenantId: row.tenantId, callbackId: row.id, callId: call.id }, 'callback placed');
    } catch (err) {
      const nowMs = this.now();
      if (err instanceof ApiError && err.code === 'quota_exceeded') {
        const n = postponementsOf(row) + 1;
        if (n <= this.maxQuotaRetries) {
          await finish({ status: 'scheduled', dueAtMs: nowMs + this.quotaRetryDelayMs, error: `${err.message} (postponed ${n} of ${this.maxQuotaRetries})`, nowMs });
          this.o.log.warn({ tenantId: row.tenantId, callbackId: row.id, postponed: n }, 'callback postponed: quota exceeded');
          return;
        }
      }
      const placedCallId = err instanceof ApiError ? callIdOf(err.details) : null;
      await finish({ status: 'failed', placedCallId, error: (err as Error).message, nowMs });
      this.o.log.warn({ tenantId: row.tenantId, callbackId: row.id, err: (err as Error).message }, 'callback failed');
    }
  }
}

/** upstream_failed carries the id of the call Twilio refused. */
function callIdOf(details: unknown): string | null {
  const id = details !== null && typeof details === 'object' ? (details as { callId?: unknown }).callId : undefined;
  return typeof id === 'string' ? id : null;
}
