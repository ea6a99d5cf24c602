/**
 * Tenant quotas, checked before a call is answered (inbound) or placed (outbound). A call that
 * has not started yet is not counted, so "at the limit" means "no more calls".
 *
 * Check-then-act: two calls arriving at the same instant may both pass the check and exceed a
 * limit by one. Quotas bound cost and load; they are not a billing ledger.
 */
import type { Store } from '../store/store.js';
import type { TenantConfig } from '../tenants/schema.js';
import { secondsToNextUtcMidnight, startOfUtcDay } from './day.js';

export const QUOTA_NAMES = ['max_concurrent_calls', 'daily_calls', 'daily_minutes', 'daily_budget'] as const;
export type QuotaName = (typeof QUOTA_NAMES)[number];

/** When a concurrent-call slot may free up: calls end all the time, so retry soon. */
export const CONCURRENCY_RETRY_AFTER_S = 30;

export type QuotaCheck =
  | { ok: true }
  | {
      ok: false;
      quota: QuotaName;
      /** The configured limit and what was used against it. */
      limit: number;
      used: number;
      /** Seconds until trying again may succeed (next UTC midnight for daily limits). */
      retryAfterS: number;
      /** For API clients and logs; callers hear the tenant's `quotas.message` instead. */
      message: string;
    };

/**
 * Checks the tenant's quotas at `nowMs`. Daily limits are checked first: when one is exhausted,
 * its Retry-After (next midnight) is the honest answer even if concurrency is also at its limit.
 */
export async function checkQuotas(store: Pick<Store, 'calls'>, tenant: TenantConfig, nowMs: number): Promise<QuotaCheck> {
  const q = tenant.quotas;
  if (q.dailyCalls !== undefined || q.dailyMinutes !== undefined || q.dailyBudget !== undefined) {
    const usage = await store.calls.usageSince(tenant.id, startOfUtcDay(nowMs), nowMs);
    const retryAfterS = secondsToNextUtcMidnight(nowMs);
    if (q.dailyCalls !== undefined && usage.calls >= q.dailyCalls) {
      return { ok: false, quota: 'daily_calls', limit: q.dailyCalls, used: usage.calls, retryAfterS, message: `Daily call limit reached (${q.dailyCalls} calls since 00:00 UTC)` };
    }
    if (q.dailyMinutes !== undefined && usage.minutes >= q.dailyMinutes) {
      return { ok: false, quota: 'daily_minutes', limit: q.dailyMinutes, used: round2(usage.minutes), retryAfterS, message: `Daily minutes limit reached (${q.dailyMinutes} minutes since 00:00 UTC)` };
    }
    if (q.dailyBudget !== undefined && usage.cost >= q.dailyBudget) {
      return {
        ok: false,
        quota: 'daily_budget',
        limit: q.dailyBudget,
        used: round2(usage.cost),
        retryAfterS,
        message: `Daily budget reached (${q.dailyBudget} ${tenant.prices.currency} since 00:00 UTC)`,
      };
    }
  }
  if (q.maxConcurrentCalls !== undefined) {
    const live = await store.calls.countLive(tenant.id);
    if (live >= q.maxConcurrentCalls) {
      return {
        ok: false,
        quota: 'max_concurrent_calls',
        limit: q.maxConcurrentCalls,
        used: live,
        retryAfterS: CONCURRENCY_RETRY_AFTER_S,
        message: `Concurrent call limit reached (${q.maxConcurrentCalls} calls at once)`,
      };
    }
  }
  return { ok: true };
}

function round2(n: number): number {
  return Math.round(n * 100) / 100;
}
