/**
 * Turns a platform event into persisted webhook deliveries: one event envelope, one delivery row per
 * subscribed endpoint of the tenant. Sending is the dispatcher's job; this only writes rows (so an
 * event survives a crash right after it happened) and nudges the dispatcher.
 *
 * Constraint: emitting never fails the caller — a call must not end badly because a webhook could
 * not be queued. Failures are logged (without secrets or payloads) and swallowed.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Store } from '../store/store.js';
import type { TenantConfig, WebhookEventType } from '../tenants/schema.js';

/** The JSON body of every webhook delivery. */
export interface WebhookEnvelope {
  /** `evt_…`; the same for every endpoint and every redelivery of this event (deduplicate on it). */
  id: string;
  type: WebhookEventType;
  /** ISO 8601, when the event happened. */
  createdAt: string;
  tenantId: string;
  data: Record<string, unknown>;
}

export interface WebhookEmitterDeps {
  store: Pick<Store, 'deliveries'>;
  log: Pick<Logger, 'error' | 'debug'>;
  /** Called after deliveries were queued, e.g. `() => dispatcher.kick()`. */
  onEnqueued?: () => void;
  now?: () => number;
}

/** New event id, e.g. `evt_3f2a…` (32 hex chars of randomness). */
export function newEventId(): string {
  return `evt_${randomUUID().replaceAll('-', '')}`;
}

export class WebhookEmitter {
  private readonly now: () => number;

  constructor(private readonly deps: WebhookEmitterDeps) {
    this.now = deps.now ?? Date.now;
  }

  /**
   * Queues `type` with `data` for every endpoint of `tenant` subscribed to it (an URL listed twice
   * gets one delivery). Resolves once the rows are written; never rejects.
   */
  async emit(tenant: TenantConfig, type: WebhookEventType, data: Record<string, unknown>, callId?: string): Promise<void> {
    try {
      const urls = [...new Set(tenant.webhooks.filter((w) => w.events.includes(type)).map((w) => w.url))];
      if (urls.length === 0) return;
      const nowMs = this.now();
      const envelope: WebhookEnvelope = { id: newEventId(), type, createdAt: new Date(nowMs).toISOString(), tenantId: tenant.id, data };
      const payload = envelope as unknown as Record<string, unknown>;
      for (const url of urls) {
        await this.deps.store.deliveries.enqueue({ tenantId: tenant.id, eventId: envelope.id, eventType: type, callId: callId ?? null, url, payload, nowMs });
      }
      this.deps.log.debug({ tenantId: tenant.id, eventId: envelope.id, type, endpoints: urls.length }, 'webhook event queued');
      this.deps.onEnqueued?.();
    } catch (err) {
      this.deps.log.error({ err, tenantId: tenant.id, type, callId }, 'could not queue webhook event');
    }
  }
}
