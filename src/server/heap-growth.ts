import { setFlagsFromString } from 'node:v8';

/**
 * Sets how far V8 lets the old generation grow past what survived the last full (mark-compact)
 * collection before it runs the next one: to (1 + percent/100) times that. 0 gives V8 back its own
 * choice, a factor between 1.1 and 4 that it derives from how fast it marks against how fast the
 * program fills the old generation, aiming at 97 % mutator utilisation: throughput, not pauses.
 *
 * Why Parley sets it: a busy call server promotes a slow, steady trickle of call objects (replies,
 * utterances, queued audio) into the old generation, which V8 marks quickly, so its own factor comes
 * out near the minimum: at 500 calls a full collection about every 1.3 s, each stopping the event
 * loop 10–25 ms plus incremental steps of up to 16 ms, with inbound audio queued behind them (what
 * barge-in reaction and frame lateness felt). At 300 % (4×, V8's own ceiling on a 64-bit heap of a
 * GB or more, so never more often than V8 would collect at its most generous) the same load runs one
 * full collection in ~25 s for ~45 MB more heap (docs/performance.md, "Full collections"). A pause
 * costs what is live, not the garbage, so rarer collections are not longer ones.
 *
 * Process-wide: it applies to everything in this Node process, and the last call wins. The heap stays
 * capped by --max-old-space-size; under a small cap (a few hundred MB) V8's own ceiling is lower and 0
 * may suit better.
 */
export function setHeapGrowth(percent: number): void {
  if (!Number.isInteger(percent) || percent < 0) throw new RangeError(`heap growth must be a non-negative integer percent, got ${percent}`);
  setFlagsFromString(`--heap-growing-percent=${percent}`);
}
