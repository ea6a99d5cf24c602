import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isBackchannel, remainderAfter } from './backchannel.js';

const LIST = ['yeah', 'uh-huh', 'uh huh', 'okay', 'right', 'i see', 'mhm'];

test('backchannels, alone or a few together, are recognised whatever their case and punctuation', () => {
  for (const t of ['yeah', 'Uh-huh.', 'uh huh', 'okay, right', 'I see', 'yeah yeah']) assert.ok(isBackchannel(t, LIST), t);
});

test('words with content are an interruption, even when they start with a backchannel', () => {
  for (const t of ['', 'yeah but what about parking', 'right now please', 'stop', 'yeah okay right sure']) assert.ok(!isBackchannel(t, LIST), t);
});

test('a reply picks up after the words the caller heard', () => {
  assert.equal(remainderAfter('Breakfast is served every morning from seven. The pool opens at eight.', 'Breakfast is served'), 'every morning from seven. The pool opens at eight.');
  assert.equal(remainderAfter('Hello there.', 'Hello there.'), '');
  assert.equal(remainderAfter('Hello there.', ''), 'Hello there.');
});
