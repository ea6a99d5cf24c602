// endpointing.interruptMinWords: the agent talks on through caller speech until the words show it is
// an interruption. Backchannels then never stop it (no clear at all); words, or speech longer than a
// backchannel, still do.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { callWith, FIRST_QUESTION, sleep } from './interruption-test-support.js';
import { PartialThenFinalStt } from './session-test-support.js';

const clears = (events: string[]): number => events.filter((e) => e === 'clear').length;

test('an "okay" said over the agent does not stop it at all: no clear, no new request, counted as talked through', async () => {
  const stt = new PartialThenFinalStt([FIRST_QUESTION, { partial: 'okay', final: 'okay', finalDelayMs: 50 }]);
  const c = await callWith(stt, { interruptMinWords: 1 });
  try {
    await c.feed(true, 15); // 300 ms of "okay": past bargeInMs (150), which would have stopped the agent
    await c.feed(false, 35); // the caller's turn ends (600 ms of silence) while the agent talks on
    await sleep(150);
    assert.equal(clears(c.transport.events), 0, 'the agent never stopped');
    const events = await c.events();
    assert.ok(!events.some((e) => e.type === 'barge_in'), JSON.stringify(events.map((e) => e.type)));
    const ignored = events.find((e) => e.type === 'speech_over_agent.ignored');
    assert.deepEqual(ignored?.data, { reason: 'backchannel', said: 'okay' });
    assert.match(await c.metrics.registry.metrics(), /parley_speech_over_agent_ignored_total\{reason="backchannel"\} 1/);
    await sleep(700); // the model writes its other two sentences meanwhile
    assert.equal(c.llm.requests.length, 1, '"okay" was not answered');
    assert.equal(c.llm.requests[0]!.signal.aborted, false);
    assert.deepEqual(c.tts.said, ['Breakfast is served from seven.', 'The pool opens at nine.', 'The spa is on the top floor.']);
  } finally {
    await c.end();
  }
});

test('words that are not backchannels stop the agent as soon as the partial transcript shows them settled, and are answered', async () => {
  const stt = new PartialThenFinalStt([FIRST_QUESTION, { partial: 'okay wait what', final: 'okay wait what about parking', finalDelayMs: 50 }]);
  const c = await callWith(stt, { interruptMinWords: 1 });
  try {
    await c.feed(true, 4); // the partial comes with the 5th frame (the pre-roll is the first): before bargeInMs
    assert.equal(clears(c.transport.events), 0, 'not before bargeInMs of speech');
    await c.feed(true, 5);
    assert.equal(clears(c.transport.events), 1, 'stopped at bargeInMs, the words being there already');
    await c.feed(true, 10);
    await c.feed(false, 35);
    await sleep(150);
    const bargeIn = (await c.events()).find((e) => e.type === 'barge_in');
    assert.equal((bargeIn?.data as { confirmedBy?: string }).confirmedBy, 'words');
    assert.equal(c.llm.requests.length, 2);
    assert.deepEqual(c.llm.requests[1]!.req.messages.at(-1), { role: 'user', content: 'okay wait what about parking' });
  } finally {
    await c.end();
  }
});

test('the last word of a partial, a guess at a word still being spoken, does not stop the agent while the caller talks', async () => {
  // pocketsphinx first hears the onset of "okay" as "the".
  const stt = new PartialThenFinalStt([FIRST_QUESTION, { partial: ['the', 'okay'], final: 'okay', finalDelayMs: 50 }]);
  const c = await callWith(stt, { interruptMinWords: 1 });
  try {
    await c.feed(true, 15);
    await c.feed(false, 35);
    await sleep(150);
    assert.equal(clears(c.transport.events), 0);
    const ignored = (await c.events()).find((e) => e.type === 'speech_over_agent.ignored');
    assert.deepEqual(ignored?.data, { reason: 'backchannel', said: 'okay' });
  } finally {
    await c.end();
  }
});

test('a word the caller ends on counts at the end of the turn, without waiting for the final transcript', async () => {
  const stt = new PartialThenFinalStt([FIRST_QUESTION, { partial: 'stop', final: 'stop', finalDelayMs: 1_000 }]);
  const c = await callWith(stt, { interruptMinWords: 1 });
  try {
    await c.feed(true, 15);
    assert.equal(clears(c.transport.events), 0, 'still a guess while the caller talks');
    await c.feed(false, 35); // the turn ends after 600 ms of silence; the final is a second away
    assert.equal(clears(c.transport.events), 1);
    const bargeIn = (await c.events()).find((e) => e.type === 'barge_in');
    assert.deepEqual(bargeIn?.data.confirmedBy, 'words');
  } finally {
    await c.end();
  }
});

test('speech longer than a backchannel stops the agent even when the recogniser shows no words yet', async () => {
  const stt = new PartialThenFinalStt([FIRST_QUESTION, { partial: '', final: '', finalDelayMs: 50 }]);
  const c = await callWith(stt, { interruptMinWords: 1 });
  try {
    await c.feed(true, 40); // 800 ms: still talked through
    assert.equal(clears(c.transport.events), 0);
    await c.feed(true, 10); // past 900 ms
    assert.equal(clears(c.transport.events), 1);
    await c.feed(false, 35);
    await sleep(200);
    const types = (await c.events()).map((e) => e.type);
    // It produced no words after all: the agent picks up where it stopped, as after any barge-in.
    assert.ok(types.includes('barge_in') && types.includes('barge_in.resumed'), types.join(', '));
    const bargeIn = (await c.events()).find((e) => e.type === 'barge_in');
    assert.equal((bargeIn?.data as { confirmedBy?: string }).confirmedBy, 'speech_length');
  } finally {
    await c.end();
  }
});

test('words that only the final transcript shows stop the agent when it comes, and are answered', async () => {
  const stt = new PartialThenFinalStt([FIRST_QUESTION, { partial: '', final: 'hold on a second', finalDelayMs: 100 }]);
  const c = await callWith(stt, { interruptMinWords: 1 });
  try {
    await c.feed(true, 15);
    await c.feed(false, 35);
    assert.equal(clears(c.transport.events), 0, 'nothing said yet that interrupts');
    await sleep(200);
    assert.equal(clears(c.transport.events), 1, 'stopped once the words were known');
    assert.equal(c.llm.requests.length, 2);
    assert.deepEqual(c.llm.requests[1]!.req.messages.at(-1), { role: 'user', content: 'hold on a second' });
  } finally {
    await c.end();
  }
});

test('with interruptMinWords 2, one word over the agent is talked through as too few', async () => {
  const stt = new PartialThenFinalStt([FIRST_QUESTION, { partial: 'wait', final: 'wait', finalDelayMs: 50 }]);
  const c = await callWith(stt, { interruptMinWords: 2 });
  try {
    await c.feed(true, 15);
    await c.feed(false, 35);
    await sleep(150);
    assert.equal(clears(c.transport.events), 0);
    const ignored = (await c.events()).find((e) => e.type === 'speech_over_agent.ignored');
    assert.deepEqual(ignored?.data, { reason: 'too_few_words', said: 'wait' });
    assert.equal(c.llm.requests.length, 1);
  } finally {
    await c.end();
  }
});

test('the agent’s own words coming back through the echo gate neither stop it nor get answered', async () => {
  const stt = new PartialThenFinalStt([FIRST_QUESTION, { partial: 'breakfast is served', final: 'breakfast is served from', finalDelayMs: 50 }]);
  const c = await callWith(stt, { interruptMinWords: 1 }, { agent: { echoSuppression: true } });
  try {
    await c.feed(true, 15);
    await c.feed(false, 35);
    await sleep(150);
    assert.equal(clears(c.transport.events), 0);
    const ignored = (await c.events()).find((e) => e.type === 'speech_over_agent.ignored');
    assert.deepEqual(ignored?.data, { reason: 'echo', said: 'breakfast is served from' });
    assert.equal(c.llm.requests.length, 1);
  } finally {
    await c.end();
  }
});

test('by default (interruptMinWords 0) the same "okay" stops the agent at bargeInMs, as before', async () => {
  const stt = new PartialThenFinalStt([FIRST_QUESTION, { partial: 'okay', final: 'okay', finalDelayMs: 50 }]);
  const c = await callWith(stt);
  try {
    await c.feed(true, 8);
    assert.equal(clears(c.transport.events), 1);
  } finally {
    await c.end();
  }
});
