import assert from 'node:assert/strict';
import { test } from 'node:test';
import { classifyCompleteness } from './turn-completeness.js';

test('words that leave a thought hanging read as incomplete', () => {
  for (const t of ['I would like to book a room and', 'my name is', 'I want to come on the', 'um', 'can I have a room for'])
    assert.equal(classifyCompleteness(t), 'incomplete', t);
});

test('a number being read out is incomplete until it has the digits of a phone number', () => {
  assert.equal(classifyCompleteness('my number is four five six'), 'incomplete');
  assert.equal(classifyCompleteness('my phone number is 555 01'), 'incomplete');
  assert.equal(classifyCompleteness('my number is four one five five five five zero one two three'), 'complete');
});

test('short answers and closings read as complete', () => {
  for (const t of ['yes', 'No.', 'no thank you', "that's all, thanks", 'ok thank you goodbye', 'Thank you. Bye!'])
    assert.equal(classifyCompleteness(t), 'complete', t);
});

test('a question with its object said reads as complete', () => {
  for (const t of ['what time is breakfast', 'When does the pool open?', 'do you have parking', 'is breakfast included', "what's the wifi password", 'how much is a room'])
    assert.equal(classifyCompleteness(t), 'complete', t);
});

test('a question still waiting for its object, or too short to tell, is not called complete', () => {
  for (const t of ['do you have', 'can you tell me', 'could you send me', 'is there any', 'what time', 'how much', 'can you help me', 'do you know'])
    assert.notEqual(classifyCompleteness(t), 'complete', t);
  for (const t of ['what time is the', 'can I book a room for', 'where is my'])
    assert.equal(classifyCompleteness(t), 'incomplete', t);
});

test('anything else is left to the normal silence window', () => {
  for (const t of ['', 'I would like to make a reservation', 'three nights', 'breakfast is at what time'])
    assert.equal(classifyCompleteness(t), 'unknown', t);
});
