import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LiveCalls } from './live-calls.js';

test('hangup reaches the registered call with the reason; unknown calls are not live', () => {
  const live = new LiveCalls();
  const reasons: string[] = [];
  live.register('call_1', { hangup: (r) => reasons.push(r) });
  assert.equal(live.hangup('call_1', 'api_hangup'), true);
  assert.deepEqual(reasons, ['api_hangup']);
  assert.equal(live.hangup('call_2', 'api_hangup'), false);
});

test('unregistering removes only its own registration', () => {
  const live = new LiveCalls();
  const first = live.register('call_1', { hangup: () => {} });
  live.register('call_1', { hangup: () => {} });
  first();
  assert.equal(live.has('call_1'), true, 'a stale unregister does not drop the newer session');
  assert.equal(live.size, 1);
});
