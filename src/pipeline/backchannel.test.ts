import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isBackchannel, isEchoOf, remainderAfter, wordsBeyondBackchannels } from './backchannel.js';

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

test('the agent\'s own words coming back are recognised as echo, the caller\'s own words are not', () => {
  const reply = 'Breakfast is served every morning from six thirty to ten thirty in the lobby restaurant.';
  assert.ok(isEchoOf('served every morning from six', reply));
  assert.ok(isEchoOf('the lobby restaurant', reply));
  assert.ok(!isEchoOf('what about parking', reply));
  assert.ok(!isEchoOf('breakfast', reply), 'one word is not enough to tell');
});

test('a caller\'s words that share only function words with the reply are not its echo', () => {
  const reply = 'Breakfast is served every morning from six thirty to ten thirty in the lobby restaurant.';
  // "do you have parking" as pocketsphinx heard it over the echo (seen in a speakerphone e2e call).
  assert.ok(!isEchoOf('in the parking', reply));
  assert.ok(!isEchoOf('is the spa open', reply));
  assert.ok(isEchoOf('in the lobby', reply));
  assert.ok(isEchoOf('from the', reply), 'function words alone: judged on all the words');
});

test('words beyond backchannels: what is left after taking out every backchannel phrase, longest first', () => {
  const cases: [string, number][] = [
    ['', 0],
    ['yeah okay', 0],
    ['Uh huh, I see.', 0],
    ['okay wait', 1],
    ['uh huh no I meant Tuesday', 4],
    ['I see', 0],
    ['I want the spa', 4],
    ['right right right', 0],
  ];
  for (const [text, n] of cases) assert.equal(wordsBeyondBackchannels(text, LIST), n, text);
});
