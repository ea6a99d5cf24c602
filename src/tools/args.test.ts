import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { validateArgs } from './args.js';

const schema = {
  type: 'object',
  properties: {
    digits: { type: 'string', pattern: '^[0-9]{1,4}$' },
    count: { type: 'integer', minimum: 1, maximum: 10 },
    size: { type: 'string', enum: ['small', 'large'] },
    tags: { type: 'array', items: { type: 'string', maxLength: 3 }, maxItems: 2 },
    nested: { type: 'object', properties: { ok: { type: 'boolean' } }, required: ['ok'], additionalProperties: false },
  },
  required: ['digits'],
  additionalProperties: false,
};

describe('validateArgs', () => {
  it('accepts arguments that fit the schema', () => {
    assert.equal(validateArgs({ digits: '12', count: 3, size: 'small', tags: ['a'], nested: { ok: true } }, schema), undefined);
  });

  it('names the first problem with its path', () => {
    const cases: [unknown, RegExp][] = [
      [{}, /arguments\.digits is required/],
      [{ digits: '12345' }, /arguments\.digits must match/],
      [{ digits: 12 }, /arguments\.digits must be string, not integer/],
      [{ digits: '1', count: 2.5 }, /arguments\.count must be integer, not number/],
      [{ digits: '1', count: 11 }, /at most 10/],
      [{ digits: '1', count: '3' }, /must be integer, not string/],
      [{ digits: '1', size: 'medium' }, /must be one of "small", "large"/],
      [{ digits: '1', tags: ['a', 'b', 'c'] }, /at most 2 items/],
      [{ digits: '1', tags: ['abcd'] }, /arguments\.tags\[0\] must be at most 3 characters/],
      [{ digits: '1', nested: {} }, /arguments\.nested\.ok is required/],
      [{ digits: '1', nested: { ok: true, x: 1 } }, /arguments\.nested\.x is not an accepted argument/],
      [{ digits: '1', to: '+15550000000' }, /arguments\.to is not an accepted argument \(accepted: digits, count/],
      [[1], /arguments must be object, not array/],
      [null, /arguments must be object, not null/],
    ];
    for (const [args, re] of cases) assert.match(validateArgs(args, schema) ?? 'valid', re, JSON.stringify(args));
  });

  it('ignores keywords it does not know and tolerates an invalid tenant pattern', () => {
    assert.equal(validateArgs({ a: 'x' }, { type: 'object', properties: { a: { type: 'string', format: 'email', pattern: '(' } } }), undefined);
  });
});
