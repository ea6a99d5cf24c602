/**
 * Sends queued webhook deliveries and retries the failed ones on a backoff schedule. The queue is
 * the `webhook_deliveries` table, so deliveries survive restarts: a delivery due while the server
 * was down is sent by the first poll after start().
 *
 * Constraints:
 * - One dispatcher per database: the in-flight set that stops a delivery from being sent twice at
 *   once lives in this process's memory (there is no lease column).
 * - At most `maxInFlight` requests at a time, across tenants; order between deliveries is not
 *   guaranteed (receivers order by the envelope's `createdAt`).
 * - Every attempt is recorded on its row (attempts, status code, error, next attempt) before the
 *   delivery can be picked again.
 * - The signing secret is read from the tenant's current configuration at each attempt, by the
 *   delivery's URL: an endpoint removed from the tenant fails its pending deliveries, and a rotated
 *   secret signs the retries.
 * - Requests go through the SSRF guard with the tenant's `network.allowPrivateAddresses`.
 * - stop() lets in-flight attempts finish (each is bounded by `timeoutMs`) and starts no new one.
 */
import type { Logger } from 'pino';
import { postJson } from '../net/safe-http.js';
import type { Store, WebhookDeliveryRow } from '../store/store.js';
import type { TenantConfig } from '../tenants/schema.js';
import { SIGNATURE_HEADER, signWebhookPayload } from './signature.js';

/** Waits after the 1st, 2nd, … failed attempt; after the last one the delivery is `failed`. */
export const DEFAULT_RETRY_SCHEDULE_MS: readonly number[] = [10_000, 60_000, 5 * 60_000, 30 * 60_000, 2 * 3_600_000, 8 * 3_600_000];
export const WEBHOOK_TIMEOUT_MS = 10_000;
export const WEBHOOK_USER_AGENT = 'Parley-Webhooks/1';
/** A receiver's answer larger than this fails the attempt; webhooks answer with a status, not data. */
const MAX_RESPONSE_BYTES = 64 * 1024;
/** How much of a non-2xx response body is kept in `lastError`. */
const ERROR_BODY_CHARS = 200;
/**
 * A delivery whose attempt could not be recorded (database error) is still pending and due; it is
 * left alone this long so a failing write cannot turn into a tight loop of POSTs.
 */
const UNRECORDED_HOLD_MS = 30_000;

export interface WebhookDispatcherOptions {
  store: Pick<Store, 'deliveries'>;
  /** The tenant's current configuration (secrets, network policy); undefined once it is deleted. */
  getTenant: (id: string) => TenantConfig | undefined;
  log: Pick<Logger, 'info' | 'warn' | 'error' | 'debug'>;
  /** Default DEFAULT_RETRY_SCHEDULE_MS. */
  retryScheduleMs?: readonly number[];
  /** Up to this fraction of each wait is added at random, so retries of many deliveries spread out. Default 0.1. */
  jitter?: number;
  /** Per attempt: DNS, connect, send and the whole answer. Default 10 s. */
  timeoutMs?: number;
  /** Default 8. */
  maxInFlight?: number;
  /** How often the table is polled for due deliveries (retries are also woken by a timer). Default 5 s. */
  pollIntervalMs?: number;
  now?: () => number;
  random?: () => number;
  /** Every recorded attempt (metrics). */
  onAttempt?: (a: AttemptReport) => void;
}

/** One attempt, after it was recorded. */
export interface AttemptReport {
  readonly deliveryId: string;
  readonly tenantId: string;
  readonly eventType: string;
  /** What the delivery is now: delivered, pending (a retry is scheduled) or failed. */
  readonly result: 'delivered' | 'pending' | 'failed';
  readonly statusCode: number | null;
  readonly error: string | null;
}

/** What one attempt came to. */
interface Outcome {
  ok: boolean;
  statusCode: number | null;
  error: string | null;
}

export class WebhookDispatcher {
  private readonly schedule: readonly number[];
  private readonly jitter: number;
  private readonly timeoutMs: number;
  private readonly maxInFlight: number;
  private readonly pollIntervalMs: number;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly inFlight = new Map<string, Promise<void>>();
  /** Delivery id → time before which it is not attempted again (its last attempt went unrecorded). */
  private readonly held = new Map<string, number>();
  private running = false;
  private pollTimer: NodeJS.Timeout | undefined;
  private wakeTimer: NodeJS.Timeout | undefined;
  /** Times of the retries this process scheduled, ascending; a timer fires at the first. */
  private wakeTimes: number[] = [];
  /** The pump in progress, if any; a kick during it makes it run once more. */
  private pumping: Promise<void> | undefined;
  private pumpAgain = false;

  constructor(private readonly o: WebhookDispatcherOptions) {
    this.schedule = o.retryScheduleMs ?? DEFAULT_RETRY_SCHEDULE_MS;
    this.jitter = o.jitter ?? 0.1;
    this.timeoutMs = o.timeoutMs ?? WEBHOOK_TIMEOUT_MS;
    this.maxInFlight = Math.max(1, o.maxInFlight ?? 8);
    this.pollIntervalMs = o.pollIntervalMs ?? 5_000;
    this.now = o.now ?? Date.now;
    this.random = o.random ?? Math.random;
  }

  /** Starts polling and sends whatever is already due. Idempotent. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.pollTimer = setInterval(() => this.kick(), this.pollIntervalMs);
    this.pollTimer.unref();
    this.kick();
  }

  /** Looks for due deliveries now (after an enqueue or a redeliver). Cheap; calls coalesce. */
  kick(): void {
    if (!this.running) return;
    if (this.pumping !== undefined) {
      this.pumpAgain = true;
      return;
    }
    this.pumping = (async () => {
      do {
        this.pumpAgain = false;
        await this.pump();
      } while (this.pumpAgain && this.running);
    })()
      .catch((err: unknown) => this.o.log.error({ err }, 'webhook dispatcher could not read due deliveries'))
      .finally(() => {
        this.pumping = undefined;
      });
  }

  /** Stops polling, starts no new attempt, and waits for the attempts in flight. Idempotent. */
  async stop(): Promise<void> {
    this.running = false;
    clearInterval(this.pollTimer);
    clearTimeout(this.wakeTimer);
    this.pollTimer = undefined;
    this.wakeTimer = undefined;
    this.wakeTimes = [];
    await this.pumping;
    await Promise.allSettled([...this.inFlight.values()]);
  }

  /** Starts attempts for due deliveries, up to the free concurrency. */
  private async pump(): Promise<void> {
    const free = this.maxInFlight - this.inFlight.size;
    if (free <= 0) return; // a finishing attempt kicks again
    // Rows in flight are still pending (and due) until their attempt is recorded: ask for extra.
    const nowMs = this.now();
    for (const [id, until] of this.held) if (until <= nowMs) this.held.delete(id);
    const rows = await this.o.store.deliveries.due(nowMs, free + this.inFlight.size + this.held.size);
    for (const row of rows) {
      if (!this.running || this.inFlight.size >= this.maxInFlight) break;
      if (this.inFlight.has(row.id) || this.held.has(row.id)) continue;
      const p = this.attempt(row)
        .catch((err: unknown) => {
          this.held.set(row.id, this.now() + UNRECORDED_HOLD_MS);
          this.o.log.error({ err, deliveryId: row.id }, 'could not record a webhook attempt');
        })
        .finally(() => {
          this.inFlight.delete(row.id);
          this.kick();
        });
      this.inFlight.set(row.id, p);
    }
  }

  /** One attempt at one delivery, recorded on its row. */
  private async attempt(row: WebhookDeliveryRow): Promise<void> {
    const tenant = this.o.getTenant(row.tenantId);
    const endpoint = tenant?.webhooks.find((w) => w.url === row.url);
    if (tenant === undefined || endpoint === undefined) {
      const error = tenant === undefined ? 'the tenant no longer exists' : 'the endpoint is no longer in the tenant configuration';
      await this.o.store.deliveries.recordAttempt(row.id, { status: 'failed', statusCode: null, error, nextAttemptAtMs: null, atMs: this.now() });
      this.report(row, 'failed', { ok: false, statusCode: null, error });
      this.o.log.warn({ deliveryId: row.id, tenantId: row.tenantId }, `webhook delivery failed: ${error}`);
      return;
    }
    const outcome = await this.send(row, endpoint.secret, tenant.network.allowPrivateAddresses);
    const atMs = this.now();
    if (outcome.ok) {
      await this.o.store.deliveries.recordAttempt(row.id, { status: 'delivered', statusCode: outcome.statusCode, error: null, nextAttemptAtMs: null, atMs });
      this.report(row, 'delivered', outcome);
      this.o.log.debug({ deliveryId: row.id, tenantId: row.tenantId, statusCode: outcome.statusCode }, 'webhook delivered');
      return;
    }
    // row.attempts counts the attempts before this one: the wait after the n-th failure is schedule[n-1].
    const waitMs = this.schedule[row.attempts];
    const nextAttemptAtMs = waitMs === undefined ? null : atMs + Math.round(waitMs * (1 + this.jitter * this.random()));
    await this.o.store.deliveries.recordAttempt(row.id, {
      status: nextAttemptAtMs === null ? 'failed' : 'pending',
      statusCode: outcome.statusCode,
      error: outcome.error,
      nextAttemptAtMs,
      atMs,
    });
    this.report(row, nextAttemptAtMs === null ? 'failed' : 'pending', outcome);
    const ctx = { deliveryId: row.id, tenantId: row.tenantId, attempt: row.attempts + 1, statusCode: outcome.statusCode };
    if (nextAttemptAtMs === null) this.o.log.warn(ctx, 'webhook delivery failed: retries exhausted');
    else {
      this.o.log.info({ ...ctx, retryInMs: nextAttemptAtMs - atMs }, 'webhook attempt failed, will retry');
      this.wakeAt(nextAttemptAtMs);
    }
  }

  private report(row: WebhookDeliveryRow, result: AttemptReport['result'], outcome: Outcome): void {
    try {
      this.o.onAttempt?.({ deliveryId: row.id, tenantId: row.tenantId, eventType: row.eventType, result, statusCode: outcome.statusCode, error: outcome.error });
    } catch (err) {
      this.o.log.error({ err }, 'webhook onAttempt hook threw');
    }
  }

  private async send(row: WebhookDeliveryRow, secret: string, allowPrivateAddresses: boolean): Promise<Outcome> {
    // postJson serialises with JSON.stringify too: the signed bytes are the bytes sent.
    const raw = JSON.stringify(row.payload);
    const headers = {
      'user-agent': WEBHOOK_USER_AGENT,
      'X-Parley-Event': row.eventType,
      'X-Parley-Delivery': row.id,
      [SIGNATURE_HEADER]: signWebhookPayload(secret, raw, this.now() / 1000),
    };
    try {
      const res = await postJson(row.url, row.payload, { headers, timeoutMs: this.timeoutMs, allowPrivateAddresses, maxResponseBytes: MAX_RESPONSE_BYTES });
      if (res.status >= 200 && res.status < 300) return { ok: true, statusCode: res.status, error: null };
      const snippet = res.body.replace(/\s+/g, ' ').trim().slice(0, ERROR_BODY_CHARS);
      return { ok: false, statusCode: res.status, error: `HTTP ${res.status}${snippet === '' ? '' : `: ${snippet}`}` };
    } catch (err) {
      return { ok: false, statusCode: null, error: err instanceof Error ? err.message : String(err) };
    }
  }

  /** Makes sure a pump runs at `atMs`, so a retry goes out on time rather than at the next poll. */
  private wakeAt(atMs: number): void {
    if (!this.running) return;
    const i = this.wakeTimes.findIndex((t) => t > atMs);
    this.wakeTimes.splice(i < 0 ? this.wakeTimes.length : i, 0, atMs);
    this.armWake();
  }

  private armWake(): void {
    clearTimeout(this.wakeTimer);
    this.wakeTimer = undefined;
    const first = this.wakeTimes[0];
    if (first === undefined || !this.running) return;
    this.wakeTimer = setTimeout(() => {
      const nowMs = this.now();
      while ((this.wakeTimes[0] ?? Infinity) <= nowMs) this.wakeTimes.shift();
      this.kick();
      this.armWake();
    }, Math.max(1, first - this.now()));
    this.wakeTimer.unref();
  }
}
