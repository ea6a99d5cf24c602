import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PlayoutTracker } from './playout-tracker.js';

function twoSentences(): PlayoutTracker {
  const t = new PlayoutTracker();
  t.beginSegment('Welcome to the Seaview Hotel.');
  t.addQueuedAudio(2000);
  t.endSegment('m1');
  t.beginSegment('How can I help you with your booking today?');
  t.addQueuedAudio(3000);
  t.endSegment('m2');
  return t;
}

test('a mark echo confirms its sentence and every sentence before it', () => {
  const t = twoSentences();
  t.onAudioSent(5000, 0);
  assert.deepEqual(t.onMark('m2', 5000), ['Welcome to the Seaview Hotel.', 'How can I help you with your booking today?']);
  assert.equal(t.fullyPlayed, true);
  assert.equal(t.onMark('nope', 5000), undefined);
});

test('heard position extrapolates from the last mark but never past audio sent', () => {
  const t = twoSentences();
  t.onAudioSent(2500, 1000);
  assert.equal(t.heardMs(1000), 0);
  assert.equal(t.heardMs(2200), 1200);
  assert.equal(t.heardMs(9000), 2500, 'clamped to what was sent');
  t.onMark('m1', 3400); // playback was slower than wall clock: position 2000 at 3400
  assert.equal(t.heardMs(3900), 2500);
});

test('an interruption mid-sentence keeps whole earlier sentences and the heard share of words', () => {
  const t = twoSentences();
  // 1500 ms into the 3000 ms second sentence: half of its 9 words.
  assert.equal(t.heardText(3500), 'Welcome to the Seaview Hotel. How can I help');
  assert.equal(t.heardText(0), '');
  assert.equal(t.heardText(5000), t.fullText());
});
