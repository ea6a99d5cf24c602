import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Pacer, type PacedStream } from './pacer.js';

/** A stream of 20 ms frames (and 0 ms marks) that records when each item went out. */
class Stream implements PacedStream {
  readonly items: ('audio' | 'mark')[] = [];
  readonly sentAt: number[] = [];
  calls = 0;
  queue(frames: number, mark = false): void {
    for (let i = 0; i < frames; i++) this.items.push('audio');
    if (mark) this.items.push('mark');
  }
  get hasQueued(): boolean {
    return this.items.length > 0;
  }
  sendNext(nowMs: number): number {
    this.calls++;
    const item = this.items.shift();
    if (item === undefined) return -1;
    this.sentAt.push(nowMs);
    return item === 'audio' ? 20 : 0;
  }
}

function clocked() {
  let now = 0;
  const pacer = new Pacer(160, () => now);
  return {
    pacer,
    at(ms: number): void {
      now = ms;
    },
    /** Runs the pacer's ticks from now to `untilMs` in 10 ms steps (as its timer would). */
    run(untilMs: number): void {
      for (; now <= untilMs; now += 10) (pacer as unknown as { tick(): void }).tick();
      now = untilMs;
    },
  };
}

test('sends the lead at once, then one frame per 20 ms of real time', () => {
  const c = clocked();
  const s = new Stream();
  c.pacer.add(s);
  s.queue(20, true);
  c.pacer.wake(s);
  assert.deepEqual(s.sentAt, [0, 0, 0, 0, 0, 0, 0, 0]);
  c.run(250);
  // Frame k (k ≥ 8) is due at 20k − 160 ms and goes on the first tick after that.
  assert.deepEqual(s.sentAt.slice(8, 14), [10, 30, 50, 70, 90, 110]);
  c.run(400);
  assert.equal(s.sentAt.length, 21);
  assert.equal(s.sentAt[19], 230);
  assert.equal(s.sentAt[20], 250, 'the mark goes when its place in the audio comes due');
});

test('audio queued while the carrier still plays continues the run; after it ran dry a new run starts', () => {
  const c = clocked();
  const s = new Stream();
  c.pacer.add(s);
  s.queue(10);
  c.pacer.wake(s);
  c.run(60); // frames 8, 9 at 10 and 30: 200 ms sent by 30 ms
  assert.equal(s.sentAt.length, 10);
  c.at(100);
  s.queue(5);
  c.pacer.wake(s);
  // Still 100 ms of audio at the carrier: the run continues on its schedule (frame 10 due at 40, so it goes now,
  // then what is due by 100 + 160).
  assert.equal(s.sentAt.length, 13);
  c.run(500);
  c.at(1000);
  s.queue(10);
  c.pacer.wake(s);
  assert.equal(s.sentAt.filter((t) => t === 1000).length, 8, 'a fresh lead after the carrier ran dry');
});

test('reset starts a new run at once (after a clear)', () => {
  const c = clocked();
  const s = new Stream();
  c.pacer.add(s);
  s.queue(30);
  c.pacer.wake(s);
  c.run(100);
  s.items.length = 0;
  c.pacer.reset(s);
  s.queue(30);
  c.pacer.wake(s);
  assert.equal(s.sentAt.filter((t) => t === 100).length, 8);
});

test('streams with nothing queued are not visited by the timer', () => {
  const c = clocked();
  const talking = new Stream();
  const silent = Array.from({ length: 100 }, () => new Stream());
  for (const s of [talking, ...silent]) c.pacer.add(s);
  talking.queue(100);
  c.pacer.wake(talking);
  c.run(1000);
  assert.equal(silent.reduce((n, s) => n + s.calls, 0), 0);
  assert.equal(talking.sentAt.length, 58);
  c.pacer.remove(talking);
  c.run(1100);
  assert.equal(talking.sentAt.length, 58, 'a removed stream gets nothing more');
});
