import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CircuitBreakers } from './circuit-breaker.js';

test('a provider failing repeatedly is skipped for the cool-down, then probed once', () => {
  let now = 0;
  const b = new CircuitBreakers({ failureThreshold: 2, coolDownMs: 1000 }, () => now);
  b.recordFailure('p');
  assert.equal(b.allow('p'), true, 'one failure does not open');
  b.recordFailure('p');
  assert.equal(b.allow('p'), false);
  now = 1000;
  assert.equal(b.allow('p'), true, 'probe after cool-down');
  assert.equal(b.allow('p'), false, 'only one probe at a time');
  b.recordFailure('p');
  assert.equal(b.allow('p'), false, 'failed probe re-opens');
  now = 2000;
  assert.equal(b.allow('p'), true);
  b.recordSuccess('p');
  assert.equal(b.allow('p'), true);
  assert.equal(b.allow('p'), true, 'closed again');
});
