/** Daily quotas count from 00:00 UTC; these give the window a moment falls in. */

const DAY_MS = 86_400_000;

/** 00:00 UTC of the day `nowMs` falls in. */
export function startOfUtcDay(nowMs: number): number {
  return Math.floor(nowMs / DAY_MS) * DAY_MS;
}

/** 00:00 UTC of the next day: when daily quotas reset. */
export function nextUtcMidnight(nowMs: number): number {
  return startOfUtcDay(nowMs) + DAY_MS;
}

/** Whole seconds until the next UTC midnight, at least 1 (a Retry-After value). */
export function secondsToNextUtcMidnight(nowMs: number): number {
  return Math.max(1, Math.ceil((nextUtcMidnight(nowMs) - nowMs) / 1000));
}
