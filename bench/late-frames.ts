/**
 * Who made a late frame late. The load bench's callers time each agent frame as they read it, so
 * a frame counts late whether the server sent it late, the fake TTS handed the server its audio
 * late, or the caller process itself was busy when the frame arrived (the callers and the fakes
 * share the second core). This sorts the late frames by what was stalled around them, blaming the
 * server first: a frame read within a server stall, or up to STALL_TAIL_MS after it, is the
 * server's; else a frame within or just after a stall of the fakes' process is the fakes'; else a
 * frame the caller read while its own timer was overdue is the caller's; the rest are unexplained.
 */

/** A stall of some process's event loop, in wall-clock ms. */
export interface WallStall {
  readonly endWallMs: number;
  readonly ms: number;
}

export interface LateFrameTimes {
  /** Late frames read while the caller process was behind on its own timer. */
  readonly callerBehind: readonly number[];
  /** Late frames read while it was on time. */
  readonly callerOnTime: readonly number[];
}

export interface LateAttribution {
  readonly afterServerStall: number;
  readonly afterFakesStall: number;
  readonly callersBehind: number;
  readonly unexplained: number;
}

/** How long after a stall ends its backlog of frames is still arriving (the burst the pacer sends then). */
export const STALL_TAIL_MS = 100;

function within(stalls: readonly WallStall[], at: number): boolean {
  return stalls.some((s) => at >= s.endWallMs - s.ms && at <= s.endWallMs + STALL_TAIL_MS);
}

export function attributeLateFrames(late: LateFrameTimes, server: readonly WallStall[], fakes: readonly WallStall[]): LateAttribution {
  const out = { afterServerStall: 0, afterFakesStall: 0, callersBehind: 0, unexplained: 0 };
  const classify = (at: number, callerBehind: boolean): void => {
    if (within(server, at)) out.afterServerStall++;
    else if (within(fakes, at)) out.afterFakesStall++;
    else if (callerBehind) out.callersBehind++;
    else out.unexplained++;
  };
  for (const at of late.callerBehind) classify(at, true);
  for (const at of late.callerOnTime) classify(at, false);
  return out;
}

/**
 * Notes this process's event-loop stalls (a 5 ms timer late by more than thresholdMs) in wall-clock
 * time; the load bench runs it in the process that hosts the fake providers.
 */
export function watchStalls(thresholdMs: number): { readonly stalls: WallStall[]; stop(): void } {
  const stalls: WallStall[] = [];
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    if (now - last > thresholdMs) stalls.push({ endWallMs: Math.round(performance.timeOrigin + now), ms: Math.round(now - last) });
    last = now;
  }, 5);
  timer.unref();
  return { stalls, stop: () => clearInterval(timer) };
}
