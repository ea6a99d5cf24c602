import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { lowerPlatformThreads } from './background-threads.js';

/**
 * A child process lowers its platform threads, then makes V8 collect and compile for a while and
 * reports each thread's niceness and CPU time: the threads it lowered must be the ones doing V8's
 * background work (a wrong guess would lower idle or libuv threads, which use next to nothing here).
 */
const CHILD = `
import { readdirSync, readFileSync } from 'node:fs';
const { lowerPlatformThreads } = await import(${JSON.stringify(fileURLToPath(new URL('./background-threads.ts', import.meta.url)))});
const result = lowerPlatformThreads(10);
const before = new Map(readdirSync('/proc/self/task').map((t) => [t, cpu(t)]));
let keep = [];
for (let i = 0; i < 4e6; i++) { keep.push({ i, s: 'x' + i }); if (keep.length > 1e6) keep = []; }
for (let k = 0; k < 400; k++) { const f = new Function('x', 'let s = 0; for (let i = 0; i < 2000; i++) s += x * i + ' + k + '; return s;'); for (let j = 0; j < 200; j++) f(j); }
const threads = readdirSync('/proc/self/task').map((t) => ({ tid: Number(t), nice: Number(stat(t)[16]), cpuTicks: cpu(t) - (before.get(t) ?? 0) }));
console.log(JSON.stringify({ result, pid: process.pid, threads }));
function stat(t) { return readFileSync('/proc/self/task/' + t + '/stat', 'utf8').replace(/^.*\\) /, '').split(' '); }
function cpu(t) { const f = stat(t); return Number(f[11]) + Number(f[12]); }
`;

describe('lowerPlatformThreads', { skip: process.platform !== 'linux' && 'Linux only' }, () => {
  it("lowers the threads that do V8's background work, not the event loop's or libuv's", () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', CHILD], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { result: { threads?: number[]; skipped?: string }; pid: number; threads: { tid: number; nice: number; cpuTicks: number }[] };
    assert.ok(out.result.threads, `skipped: ${out.result.skipped}`);
    assert.equal(out.result.threads.length, 5, 'four platform workers and the delayed-task scheduler');
    const lowered = new Set(out.result.threads);
    for (const t of out.threads) assert.equal(t.nice, lowered.has(t.tid) ? 10 : 0, `thread ${t.tid}${t.tid === out.pid ? ' (main)' : ''}`);
    const background = out.threads.filter((t) => t.tid !== out.pid);
    const byLowered = background.filter((t) => lowered.has(t.tid)).reduce((n, t) => n + t.cpuTicks, 0);
    const byOthers = background.filter((t) => !lowered.has(t.tid)).reduce((n, t) => n + t.cpuTicks, 0);
    assert.ok(byLowered >= 5, `the lowered threads did the background work (${byLowered} ticks)`);
    assert.ok(byOthers <= byLowered / 10, `the other threads stayed idle (${byOthers} ticks against ${byLowered})`);
  });

  it('changes nothing where the thread layout is not known', () => {
    assert.deepEqual(lowerPlatformThreads(0), { skipped: 'off' });
    assert.match((lowerPlatformThreads(10, { nodeVersion: '24.1.0' }) as { skipped: string }).skipped, /Node 20/);
    assert.match((lowerPlatformThreads(10, { execArgv: ['--v8-pool-size=0'] }) as { skipped: string }).skipped, /pool size/);
    assert.throws(() => lowerPlatformThreads(20), RangeError);
    assert.throws(() => lowerPlatformThreads(-1), RangeError);
  });
});
