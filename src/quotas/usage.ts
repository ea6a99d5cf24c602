import type { Store } from '../store/store.js';
import type { TenantConfig } from '../tenants/schema.js';
import { nextUtcMidnight, startOfUtcDay } from './day.js';

/** One metered quantity today and its quota (null: no limit). */
export interface UsageLine {
  used: number;
  limit: number | null;
}

/** A tenant's consumption since 00:00 UTC against its quotas (GET /v1/usage). */
export interface TenantUsageToday {
  tenantId: string;
  /** ISO start of the window (00:00 UTC today) and when daily quotas reset. */
  since: string;
  resetsAt: string;
  calls: UsageLine;
  /** Answered time, live calls counted up to now; two decimals. */
  minutes: UsageLine;
  /** Cost of ended calls in `currency`; six decimals. */
  cost: UsageLine & { currency: string };
  /** Calls not ended yet (queued, ringing, in progress). */
  concurrentCalls: UsageLine;
}

export async function tenantUsageToday(store: Pick<Store, 'calls'>, tenant: TenantConfig, nowMs: number): Promise<TenantUsageToday> {
  const since = startOfUtcDay(nowMs);
  const [usage, live] = await Promise.all([store.calls.usageSince(tenant.id, since, nowMs), store.calls.countLive(tenant.id)]);
  const q = tenant.quotas;
  return {
    tenantId: tenant.id,
    since: new Date(since).toISOString(),
    resetsAt: new Date(nextUtcMidnight(nowMs)).toISOString(),
    calls: { used: usage.calls, limit: q.dailyCalls ?? null },
    minutes: { used: Math.round(usage.minutes * 100) / 100, limit: q.dailyMinutes ?? null },
    cost: { used: Math.round(usage.cost * 1e6) / 1e6, limit: q.dailyBudget ?? null, currency: tenant.prices.currency },
    concurrentCalls: { used: live, limit: q.maxConcurrentCalls ?? null },
  };
}
