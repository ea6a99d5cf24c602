// The caller was not finished: words that come over the agent's answer soon after the caller's turn
// ended (an afterthought after a pause the endpointing took for the end) are the same turn. The
// answer's false start is dropped and both parts are answered as one.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { callWith, sleep } from './interruption-test-support.js';

/** The caller speaks again 0.7 s (media time) after the question ended: 35 frames of silence. */
const SOON = { silenceAfterAnswerStartsFrames: 0 };
/** The agent's setting under test, as it is by default. */
const ON = { continuationWindowMs: 1000 };

test('by default, words soon after the turn ended, over the first words of its answer, are answered together with it', async () => {
  const c = await callWith(['what is on', 'at the pool'], {}, SOON);
  try {
    await c.feed(true, 40);
    await c.feed(false, 40);
    await sleep(300);
    assert.equal(c.transport.events.filter((e) => e === 'clear').length, 1, 'the false start was stopped');
    assert.equal(c.llm.requests.length, 2);
    assert.equal(c.llm.requests[0]!.signal.aborted, true, 'its model was stopped for good');
    const asked = c.llm.requests[1]!.req.messages;
    assert.deepEqual(asked.at(-1), { role: 'user', content: 'what is on at the pool' }, 'one question, whole');
    assert.deepEqual(asked.filter((m) => m.role === 'user').map((m) => m.content), ['what is on at the pool']);
    assert.ok(!asked.some((m) => m.role === 'assistant' && /interrupted|Breakfast/.test(m.content)), 'the false start is not in the history');
    assert.deepEqual(await c.userTurns(), ['what is on at the pool'], 'one user turn on the record');
    const abandoned = (await c.events()).find((e) => e.type === 'reply.abandoned');
    assert.equal((abandoned?.data as { reason?: string } | undefined)?.reason, 'caller_continued');
    assert.ok(!(await c.events()).some((e) => e.type === 'barge_in.resumed'));
    assert.match(await c.metrics.registry.metrics(), /parley_caller_continued_total\{reply_phase="speaking"\} 1/);
  } finally {
    await c.end();
  }
});

test('with the window off (0), the same words are an interruption, answered on their own', async () => {
  const c = await callWith(['what is on', 'at the pool'], { continuationWindowMs: 0 }, SOON);
  try {
    await c.feed(true, 40);
    await c.feed(false, 40);
    await sleep(300);
    assert.deepEqual(c.llm.requests[1]!.req.messages.at(-1), { role: 'user', content: 'at the pool' });
    assert.deepEqual(await c.userTurns(), ['what is on', 'at the pool']);
  } finally {
    await c.end();
  }
});

test('the same words later than continuationWindowMs after the turn are an interruption, answered on their own', async () => {
  const c = await callWith(['what is on', 'at the pool'], { continuationWindowMs: 500 }, SOON);
  try {
    await c.feed(true, 40);
    await c.feed(false, 40);
    await sleep(300);
    const asked = c.llm.requests[1]!.req.messages;
    assert.deepEqual(asked.at(-1), { role: 'user', content: 'at the pool' });
    assert.deepEqual(asked.filter((m) => m.role === 'user').map((m) => m.content), ['what is on', 'at the pool']);
    assert.match(asked.at(-2)?.content ?? '', /interrupted by the caller/);
    assert.deepEqual(await c.userTurns(), ['what is on', 'at the pool']);
    assert.ok(!(await c.events()).some((e) => e.type === 'reply.abandoned'));
  } finally {
    await c.end();
  }
});

test('a backchannel soon after the turn still lets the agent go on with its answer', async () => {
  const c = await callWith(['what is on', 'okay'], ON, SOON);
  try {
    await c.feed(true, 15);
    await c.feed(false, 25);
    await sleep(300);
    assert.equal(c.llm.requests.length, 1, 'no new request: the answer goes on');
    assert.ok((await c.events()).some((e) => e.type === 'barge_in.resumed'));
    assert.deepEqual(await c.userTurns(), ['what is on']);
  } finally {
    await c.end();
  }
});
