/**
 * Parsers for the Linux /proc files the load bench reads (it reads them itself, synchronously in the
 * server's stall timer and asynchronously in the orchestrator). Times are in USER_HZ ticks of 10 ms.
 */

const TICK_MS = 10; // USER_HZ is 100 on Linux

/** One `cpu…` line of /proc/stat, in ms: busy = user + nice + system + irq + softirq (steal apart). */
export interface CoreTimes {
  readonly busyMs: number;
  readonly irqMs: number;
  readonly stealMs: number;
}

export function coreTimes(line: string): CoreTimes {
  // cpuN user nice system idle iowait irq softirq steal …
  const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1, 9).map(Number);
  const n = (v: number | undefined): number => v ?? 0;
  return {
    busyMs: (n(user) + n(nice) + n(system) + n(irq) + n(softirq)) * TICK_MS,
    irqMs: (n(irq) + n(softirq)) * TICK_MS,
    stealMs: n(steal) * TICK_MS,
  };
}

/** CPU time (ms, user + system) from the text of /proc/<pid>/stat or /proc/<pid>/task/<tid>/stat. */
export function statCpuMs(text: string): number {
  const fields = text.replace(/^.*\) /, '').split(' ');
  return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
}
