import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { attributeLateFrames, STALL_TAIL_MS } from '../../bench/late-frames.js';

describe('late frame attribution (load bench)', () => {
  const server = [{ endWallMs: 10_000, ms: 120 }]; // stalled 9 880 → 10 000
  const fakes = [{ endWallMs: 20_000, ms: 60 }]; // stalled 19 940 → 20 000

  it('blames a server stall for frames read during it or within its tail', () => {
    const at = [9_880, 9_950, 10_000, 10_000 + STALL_TAIL_MS];
    assert.deepEqual(attributeLateFrames({ callerBehind: [], callerOnTime: at }, server, fakes), {
      afterServerStall: 4,
      afterFakesStall: 0,
      callersBehind: 0,
      unexplained: 0,
    });
  });

  it('blames the server before the fakes or the caller when stalls overlap', () => {
    const overlapping = [{ endWallMs: 10_050, ms: 100 }];
    assert.deepEqual(attributeLateFrames({ callerBehind: [10_010], callerOnTime: [10_020] }, server, overlapping), {
      afterServerStall: 2,
      afterFakesStall: 0,
      callersBehind: 0,
      unexplained: 0,
    });
  });

  it('blames the fakes, then a caller that was behind, and leaves the rest unexplained', () => {
    const late = { callerBehind: [19_990, 30_000], callerOnTime: [20_050, 40_000, 10_000 + STALL_TAIL_MS + 1] };
    assert.deepEqual(attributeLateFrames(late, server, fakes), {
      afterServerStall: 0,
      afterFakesStall: 2,
      callersBehind: 1,
      unexplained: 2,
    });
  });
});
