import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Pacer, type PacedStream } from './pacer.js';

/** A stream of 20 ms frames (and 0 ms marks) that sends up to `maxMs` of frames per message, stopping at a mark. */
class Stream implements PacedStream {
  readonly items: ('audio' | 'mark')[] = [];
  /** One entry per message: when it went and what it carried ('mark' or its audio ms). */
  readonly messages: { at: number; ms: number | 'mark' }[] = [];
  calls = 0;
  queue(frames: number, mark = false): void {
    for (let i = 0; i < frames; i++) this.items.push('audio');
    if (mark) this.items.push('mark');
  }
  get hasQueued(): boolean {
    return this.items.length > 0;
  }
  sendNext(nowMs: number, maxMs: number): number {
    this.calls++;
    const first = this.items[0];
    if (first === undefined) return -1;
    if (first === 'mark') {
      this.items.shift();
      this.messages.push({ at: nowMs, ms: 'mark' });
      return 0;
    }
    let ms = 0;
    while (this.items[0] === 'audio' && (ms === 0 || ms + 20 <= maxMs)) {
      this.items.shift();
      ms += 20;
    }
    this.messages.push({ at: nowMs, ms });
    return ms;
  }
  /** Audio ms sent by `atMs` (inclusive). */
  sentBy(atMs: number): number {
    return this.messages.reduce((n, m) => n + (m.at <= atMs && m.ms !== 'mark' ? m.ms : 0), 0);
  }
}

function clocked(leadMs = 160, batchMs = 80) {
  let now = 0;
  const pacer = new Pacer(leadMs, () => now, batchMs);
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

test('sends the lead at once, then a batch whenever less than the lead is left at the carrier', () => {
  const c = clocked();
  const s = new Stream();
  c.pacer.add(s);
  s.queue(40, true);
  c.pacer.wake(s);
  assert.deepEqual(s.messages.slice(), [
    { at: 0, ms: 80 },
    { at: 0, ms: 80 },
  ]);
  c.run(1000);
  const audio = s.messages.filter((m) => m.ms !== 'mark');
  assert.ok(audio.every((m) => m.ms === 80), 'full 80 ms batches');
  assert.deepEqual(
    audio.map((m) => m.at),
    [0, 0, 10, 90, 170, 250, 330, 410, 490, 570],
    '160 ms ahead at 0, then topped up when the lead drops below 160 ms',
  );
  for (let t = 0; t <= 800; t += 10) {
    const ahead = s.sentBy(t) - t;
    if (s.sentBy(t) < 800) assert.ok(ahead >= 150 && ahead <= 240, `${ahead} ms ahead at ${t}`);
  }
  assert.deepEqual(s.messages.at(-1), { at: 650, ms: 'mark' }, 'the mark goes when its place in the audio comes due');
});

test('with a 20 ms batch it paces frame by frame', () => {
  const c = clocked(160, 20);
  const s = new Stream();
  c.pacer.add(s);
  s.queue(20, true);
  c.pacer.wake(s);
  assert.equal(s.messages.length, 8);
  c.run(250);
  // Frame k (k ≥ 8) is due at 20k − 160 ms and goes on the first tick after that.
  assert.deepEqual(
    s.messages.slice(8, 14).map((m) => m.at),
    [10, 30, 50, 70, 90, 110],
  );
});

test('audio queued while the carrier still plays continues the run; after it ran dry a new run starts', () => {
  const c = clocked();
  const s = new Stream();
  c.pacer.add(s);
  s.queue(10);
  c.pacer.wake(s);
  c.run(60); // 160 ms at 0, the last 40 ms at 10: 200 ms sent
  assert.equal(s.sentBy(60), 200);
  c.at(100);
  s.queue(10);
  c.pacer.wake(s);
  // 100 ms still at the carrier (less than the lead): the run continues, topped up by one batch.
  assert.equal(s.sentBy(100), 280);
  c.run(500);
  c.at(1000);
  s.queue(10);
  c.pacer.wake(s);
  assert.equal(
    s.messages.filter((m) => m.at === 1000).reduce((n, m) => n + (m.ms as number), 0),
    160,
    'a fresh lead after the carrier ran dry',
  );
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
  assert.equal(
    s.messages.filter((m) => m.at === 100).reduce((n, m) => n + (m.ms as number), 0),
    160,
  );
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
  const sent = talking.sentBy(1000);
  assert.ok(sent >= 1150 && sent <= 1240, `${sent} ms sent by 1 s`);
  c.pacer.remove(talking);
  c.run(1100);
  assert.equal(talking.sentBy(1100), sent, 'a removed stream gets nothing more');
});

test('poll() sends what is due when the timer is late, and nothing when a tick ran within the period', () => {
  const c = clocked();
  const s = new Stream();
  c.pacer.add(s);
  c.at(0);
  s.queue(50);
  c.pacer.wake(s); // the lead (160 ms) goes at once
  assert.equal(s.sentBy(0), 160);
  // The timer has not fired (a busy event loop); inbound messages keep arriving.
  c.at(5);
  c.pacer.poll();
  assert.equal(s.messages.length, 2, 'a tick ran less than 10 ms ago: poll does nothing');
  c.at(90);
  c.pacer.poll();
  assert.equal(s.sentBy(90), 320, 'overdue: poll keeps the lead ahead of playback (90 + 160 ms), as the tick would have');
  const sent = s.messages.length;
  c.at(95);
  c.pacer.poll();
  assert.equal(s.messages.length, sent, 'the early tick counts as the last tick');
  c.pacer.remove(s);
});

test('poll() is free when nothing is playing', () => {
  const c = clocked();
  const s = new Stream();
  c.pacer.add(s);
  c.at(1000);
  c.pacer.poll();
  assert.equal(s.calls, 0);
});
