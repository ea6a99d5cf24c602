import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SentenceSplitter } from './sentences.js';

test('emits each sentence as soon as its boundary arrives, across arbitrary deltas', () => {
  const s = new SentenceSplitter();
  assert.deepEqual(s.push('Hello there, wel'), []);
  assert.deepEqual(s.push('come to the hotel. How can'), ['Hello there, welcome to the hotel.']);
  assert.deepEqual(s.push(' I help you today? '), ['How can I help you today?']);
  assert.deepEqual(s.flush(), []);
});

test('does not split on abbreviations or decimals', () => {
  const s = new SentenceSplitter();
  assert.deepEqual(s.push('Please ask for Dr. Smith at 3.5 past noon. Thanks'), ['Please ask for Dr. Smith at 3.5 past noon.']);
  assert.deepEqual(s.flush(), ['Thanks']);
});

test('cuts a long run-on clause at a comma so first audio does not wait', () => {
  const s = new SentenceSplitter({ softMaxChars: 40 });
  const out = s.push('We have a pool, a gym, a spa and a restaurant that is open late into the night, and more ');
  assert.equal(out.length, 1);
  assert.ok(out[0]?.endsWith('night,'));
});

test('short fragments like "Ok." wait to join the next sentence', () => {
  const s = new SentenceSplitter();
  assert.deepEqual(s.push('Ok. '), []);
  assert.deepEqual(s.push('Your room is booked. '), ['Ok. Your room is booked.']);
});
