import { readdirSync } from 'node:fs';
import { setPriority } from 'node:os';

/**
 * Runs V8's platform threads (concurrent marking and sweeping, parallel scavenge helpers, background
 * compilation) at a higher niceness than the event loop's thread, on Linux: where they share a core
 * with it, the event loop, which carries live audio, goes first and they use the rest.
 *
 * Why: on a busy core the platform threads take the core from the event loop in bursts. At 500 calls
 * on one core, the stalls of over 50 ms at the start of the load bench's active window (500 first
 * replies within a few seconds, with the code still being compiled) had the main thread waiting
 * runnable for a third to half of each stall while the platform threads ran 10–60 ms
 * (docs/performance.md, "Eighth round"). Their work is not lost at a lower priority: they run in the
 * core's idle time, and V8 does on the main thread what a starved helper has not done yet.
 *
 * Which threads: Node starts its threads in a fixed order before any JavaScript runs (checked on
 * Node 20 by burning CPU in collection and compilation and reading each thread's time): the main
 * thread, the SIGUSR1 watcher, V8's platform workers (--v8-pool-size, default 4), then the platform's
 * delayed-task scheduler; libuv's pool and worker threads come later. Linux thread ids rise in
 * creation order, so these are the 2nd to (pool + 2)th ids after the main one. Elsewhere, on another
 * major version (checked on 20 only), or with a layout that does not fit, nothing is changed and the reason is returned.
 *
 * The caveat: a helper the main thread waits on (a parallel scavenge) runs at the lower priority too,
 * so on a core shared with other busy processes a scavenge can take longer. 0 turns this off.
 */
export function lowerPlatformThreads(nice: number, o: { execArgv?: readonly string[]; nodeOptions?: string; nodeVersion?: string } = {}): { threads: number[] } | { skipped: string } {
  if (!Number.isInteger(nice) || nice < 0 || nice > 19) throw new RangeError(`niceness must be an integer from 0 to 19, got ${nice}`);
  if (nice === 0) return { skipped: 'off' };
  if (process.platform !== 'linux') return { skipped: `thread priorities are per thread on Linux only (${process.platform})` };
  const major = Number((o.nodeVersion ?? process.versions.node).split('.')[0]);
  if (major !== 20) return { skipped: `thread start order checked on Node 20, not ${major}` };
  const poolSize = platformPoolSize([...(o.execArgv ?? process.execArgv), ...(o.nodeOptions ?? process.env.NODE_OPTIONS ?? '').split(/\s+/)]);
  if (poolSize === undefined) return { skipped: '--v8-pool-size=0 leaves the pool size to Node' };
  let tids: number[];
  try {
    tids = readdirSync('/proc/self/task').map(Number).sort((a, b) => a - b);
  } catch (err) {
    return { skipped: `/proc/self/task unreadable: ${(err as Error).message}` };
  }
  // [main, SIGUSR1 watcher, platform workers…, delayed-task scheduler, later threads…]
  if (tids[0] !== process.pid || tids.length < poolSize + 3) return { skipped: `thread layout does not fit (${tids.length} threads, main ${tids[0] === process.pid ? 'first' : 'not first'})` };
  const platform = tids.slice(2, poolSize + 3);
  try {
    for (const tid of platform) setPriority(tid, nice);
  } catch (err) {
    return { skipped: `setpriority failed: ${(err as Error).message}` };
  }
  return { threads: platform };
}

/** --v8-pool-size from Node's arguments (the last one wins; Node's default 4); undefined for 0 (Node decides). */
function platformPoolSize(args: readonly string[]): number | undefined {
  let size = 4;
  args.forEach((a, i) => {
    const m = /^--v8-pool-size(?:=(\d+))?$/.exec(a);
    if (m) size = Number(m[1] ?? args[i + 1]);
  });
  return size === 0 ? undefined : size;
}
