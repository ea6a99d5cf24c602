import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setHeapGrowth } from './heap-growth.js';

describe('setHeapGrowth', () => {
  it('refuses a negative or fractional percent rather than handing V8 a flag it would misread', () => {
    for (const bad of [-1, 1.5, Number.NaN]) assert.throws(() => setHeapGrowth(bad), RangeError);
  });
});
