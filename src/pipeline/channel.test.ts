import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Channel } from './channel.js';

test('items pushed before and after the consumer waits arrive in order, and close ends after the queue drains', async () => {
  const ch = new Channel<number>(8);
  ch.push(1);
  ch.push(2);
  const got: number[] = [];
  const consumer = (async () => {
    for await (const n of ch) got.push(n);
  })();
  await new Promise((r) => setImmediate(r));
  ch.push(3);
  ch.close();
  await consumer;
  assert.deepEqual(got, [1, 2, 3]);
});

test('a full channel refuses items instead of blocking the producer, and a closed one refuses everything', () => {
  const ch = new Channel<number>(2);
  assert.equal(ch.push(1), true);
  assert.equal(ch.push(2), true);
  assert.equal(ch.push(3), false);
  ch.close();
  assert.equal(new Channel<number>().push(1), true);
  const closed = new Channel<number>();
  closed.close();
  assert.equal(closed.push(1), false);
});

test('a consumer that stops early closes the channel', async () => {
  const ch = new Channel<number>();
  ch.push(1);
  ch.push(2);
  for await (const _ of ch) break;
  assert.equal(ch.push(3), false);
});
