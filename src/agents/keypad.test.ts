import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { keypadMessage, parseKeypadMessage } from './keypad.js';

describe('keypad messages', () => {
  it('are exactly "[keypad] <digits>" and parse back', () => {
    assert.equal(keypadMessage('1'), '[keypad] 1');
    assert.equal(keypadMessage('0123456789*#ABCD'), '[keypad] 0123456789*#ABCD');
    for (const d of ['1', '*', '#', '5550123', 'A1#']) assert.equal(parseKeypadMessage(keypadMessage(d)), d);
  });

  it('refuses to build a message from non-keys', () => {
    for (const bad of ['', '12a', '1 2', 'w', '1'.repeat(65)]) assert.throws(() => keypadMessage(bad), RangeError, bad);
  });

  it('does not mistake speech or near misses for key presses', () => {
    for (const text of ['one', 'keypad 1', '[keypad]', '[keypad] ', '[keypad] one', '[Keypad] 1', 'press [keypad] 1', '[keypad] 1 2']) {
      assert.equal(parseKeypadMessage(text), undefined, text);
    }
  });
});
