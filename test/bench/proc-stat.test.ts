import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { coreTimes, statCpuMs } from '../../bench/proc-stat.js';

describe('/proc parsers (load bench)', () => {
  it('reads a core line of /proc/stat: busy without idle, iowait or steal; irq and steal apart', () => {
    // cpu0 user nice system idle iowait irq softirq steal guest guest_nice
    assert.deepEqual(coreTimes('cpu0 100 2 30 9000 7 4 5 6 0 0'), { busyMs: 1410, irqMs: 90, stealMs: 60 });
  });

  it('reads utime + stime from a stat line whose command name has spaces and parentheses', () => {
    const line = '4242 (node (worker) x) S 1 4242 4242 0 -1 4194560 1000 0 0 0 123 45 0 0 20 0 11 0 100 0 0';
    assert.equal(statCpuMs(line), 1680);
  });
});
