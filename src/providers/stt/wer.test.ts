import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { normalizeWords, wordErrorRate } from './wer.js';

describe('wordErrorRate', () => {
  it('is zero for identical text regardless of case and punctuation', () => {
    assert.equal(wordErrorRate('Go forward, ten meters!', 'go forward ten meters'), 0);
  });

  it('counts a substitution, a deletion and an insertion as one error each', () => {
    assert.equal(wordErrorRate('go forward ten meters', 'go forward two meters'), 1 / 4);
    assert.equal(wordErrorRate('go forward ten meters', 'go ten meters'), 1 / 4);
    assert.equal(wordErrorRate('go forward ten meters', 'go forward ten more meters'), 1 / 4);
  });

  it('uses the minimum edit path, not positional comparison', () => {
    // Positional comparison would call every word wrong after the missing first one.
    assert.equal(wordErrorRate('a b c d e', 'b c d e'), 1 / 5);
  });

  it('can exceed 1 when the hypothesis is mostly insertions', () => {
    assert.equal(wordErrorRate('yes', 'no no no'), 3);
  });

  it('treats an empty reference as one word', () => {
    assert.equal(wordErrorRate('', ''), 0);
    assert.equal(wordErrorRate('', 'uh huh'), 2);
    assert.equal(wordErrorRate('hello there', ''), 1);
  });

  it('keeps intra-word apostrophes but drops quoting ones', () => {
    assert.deepEqual(normalizeWords("I'd say 'hello' -- don't"), ["i'd", 'say', 'hello', "don't"]);
  });
});
