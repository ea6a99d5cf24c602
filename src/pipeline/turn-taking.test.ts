import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type TurnEvent, TurnTaking } from './turn-taking.js';

const FRAME_MS = 20;

/** Feeds a pattern like "0x10 1x30 0x40" (prob x frames) and returns the events with kinds. */
function run(tt: TurnTaking, pattern: string, agentSpeaking = false): TurnEvent[] {
  const events: TurnEvent[] = [];
  for (const part of pattern.trim().split(/\s+/)) {
    const [p, n] = part.split('x').map(Number) as [number, number];
    for (let i = 0; i < n; i++) events.push(...tt.push(p, FRAME_MS, agentSpeaking));
  }
  return events;
}

test('a turn ends after the configured silence, reporting when speech really stopped', () => {
  const tt = new TurnTaking({ silenceMs: 600 });
  const ev = run(tt, '0x10 1x50 0x40');
  assert.deepEqual(
    ev.map((e) => e.kind),
    ['speech_start', 'speech_confirmed', 'turn_end'],
  );
  const end = ev.at(-1);
  assert.equal(end?.kind, 'turn_end');
  if (end?.kind === 'turn_end') {
    assert.equal(end.lastSpeechAtMs, 60 * FRAME_MS);
    assert.equal(end.atMs, 60 * FRAME_MS + 600);
  }
});

test('a pause shorter than the silence window does not end the turn', () => {
  const tt = new TurnTaking({ silenceMs: 600 });
  const ev = run(tt, '1x20 0x25 1x20 0x10');
  assert.deepEqual(
    ev.map((e) => e.kind),
    ['speech_start', 'speech_confirmed'],
  );
});

test('a click shorter than minSpeechMs is discarded, not a turn', () => {
  const tt = new TurnTaking({ minSpeechMs: 100 });
  const ev = run(tt, '1x2 0x40');
  assert.deepEqual(
    ev.map((e) => e.kind),
    ['speech_start', 'speech_discarded'],
  );
});

test('barge-in fires once after bargeInMs of speech while the agent talks', () => {
  const tt = new TurnTaking({ bargeInMs: 160, minSpeechMs: 100 });
  const ev = run(tt, '1x20', true);
  const kinds = ev.map((e) => e.kind);
  assert.deepEqual(kinds, ['speech_start', 'speech_confirmed', 'barge_in']);
  const barge = ev.find((e) => e.kind === 'barge_in');
  assert.equal(barge?.atMs, 8 * FRAME_MS);
});

test('no barge-in while the agent is silent, or when barge-in is disabled', () => {
  assert.ok(!run(new TurnTaking(), '1x30', false).some((e) => e.kind === 'barge_in'));
  assert.ok(!run(new TurnTaking({ bargeIn: false }), '1x30', true).some((e) => e.kind === 'barge_in'));
});

test('a per-turn silence window holds a turn through a longer pause, or ends it sooner, and resets with the next utterance', () => {
  const t = new TurnTaking({ silenceMs: 600, minSpeechMs: 100 });
  const feed = (p: number, ms: number) => {
    const out = [];
    for (let i = 0; i < ms / 20; i++) out.push(...t.push(p, 20, false));
    return out;
  };
  feed(1, 400);
  t.setTurnSilenceMs(1300);
  assert.deepEqual(feed(0, 900).map((e) => e.kind), [], 'a 900 ms pause does not end an incomplete turn');
  feed(1, 300);
  t.setTurnSilenceMs(300);
  assert.deepEqual(feed(0, 300).map((e) => e.kind), ['turn_end'], 'a complete turn ends after 300 ms');
  feed(1, 400);
  assert.deepEqual(feed(0, 580).map((e) => e.kind), [], 'the next utterance has the default window again');
  assert.deepEqual(feed(0, 20).map((e) => e.kind), ['turn_end']);
});
