// endpointing.interruptMinWords: the agent talks on through caller speech until the words show it is
// an interruption. Backchannels then never stop it (no clear at all); words, or speech longer than a
// backchannel, still do.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { callWith, FIRST_QUESTION, sleep } from './interruption-test-support.js';
import { PartialThenFinalStt } from './session-test-support.js';

const clears = (events: string[]): number => events.filter((e) => e === 'clear').length;

type Said = ConstructorParameters<typeof PartialThenFinalStt>[0][number];
type Call = Awaited<ReturnType<typeof callWith>>;

/** A call in which, once the agent answers the first question, the caller's next words transcribe as `said`. */
function callSaying(said: Said, endpointing: Record<string, unknown> = { interruptMinWords: 1 }, extra: Parameters<typeof callWith>[2] = {}): Promise<Call> {
  return callWith(new PartialThenFinalStt([FIRST_QUESTION, said]), endpointing, extra);
}

/** 300 ms of speech over the agent (past bargeInMs), then silence until the caller's turn has ended and been judged. */
async function sayOverAgentAndStop(c: Call): Promise<void> {
  await c.feed(true, 15);
  await c.feed(false, 35); // 700 ms: the turn ends after 600 ms of silence while the agent talks on
  await sleep(150);
}

/** The data of the call's first event of `type`. */
async function eventData(c: Call, type: string): Promise<Record<string, unknown> | undefined> {
  return (await c.events()).find((e) => e.type === type)?.data as Record<string, unknown> | undefined;
}

test('an "okay" said over the agent does not stop it at all: no clear, no new request, counted as talked through', async () => {
  const c = await callSaying({ partial: 'okay', final: 'okay', finalDelayMs: 50 });
  try {
    await sayOverAgentAndStop(c); // "okay" for 300 ms: past bargeInMs (150), which would have stopped the agent
    assert.equal(clears(c.transport.events), 0, 'the agent never stopped');
    const events = await c.events();
    assert.ok(!events.some((e) => e.type === 'barge_in'), JSON.stringify(events.map((e) => e.type)));
    assert.deepEqual(await eventData(c, 'speech_over_agent.ignored'), { reason: 'backchannel', said: 'okay' });
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
  const c = await callSaying({ partial: 'okay wait what', final: 'okay wait what about parking', finalDelayMs: 50 });
  try {
    await c.feed(true, 4); // the partial comes with the 5th frame (the pre-roll is the first): before bargeInMs
    assert.equal(clears(c.transport.events), 0, 'not before bargeInMs of speech');
    await c.feed(true, 5);
    assert.equal(clears(c.transport.events), 1, 'stopped at bargeInMs, the words being there already');
    await c.feed(true, 10);
    await c.feed(false, 35);
    await sleep(150);
    assert.equal((await eventData(c, 'barge_in'))?.confirmedBy, 'words');
    assert.equal(c.llm.requests.length, 2);
    assert.deepEqual(c.llm.requests[1]!.req.messages.at(-1), { role: 'user', content: 'okay wait what about parking' });
  } finally {
    await c.end();
  }
});

test('the last word of a partial, a guess at a word still being spoken, does not stop the agent while the caller talks', async () => {
  // pocketsphinx first hears the onset of "okay" as "the".
  const c = await callSaying({ partial: ['the', 'okay'], final: 'okay', finalDelayMs: 50 });
  try {
    await sayOverAgentAndStop(c);
    assert.equal(clears(c.transport.events), 0);
    assert.deepEqual(await eventData(c, 'speech_over_agent.ignored'), { reason: 'backchannel', said: 'okay' });
  } finally {
    await c.end();
  }
});

test('a word the caller ends on counts at the end of the turn, without waiting for the final transcript', async () => {
  const c = await callSaying({ partial: 'stop', final: 'stop', finalDelayMs: 1_000 });
  try {
    await c.feed(true, 15);
    assert.equal(clears(c.transport.events), 0, 'still a guess while the caller talks');
    await c.feed(false, 35); // the turn ends after 600 ms of silence; the final is a second away
    assert.equal(clears(c.transport.events), 1);
    assert.equal((await eventData(c, 'barge_in'))?.confirmedBy, 'words');
  } finally {
    await c.end();
  }
});

test('speech longer than a backchannel stops the agent even when the recogniser shows no words yet', async () => {
  const c = await callSaying({ partial: '', final: '', finalDelayMs: 50 });
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
    assert.equal((await eventData(c, 'barge_in'))?.confirmedBy, 'speech_length');
  } finally {
    await c.end();
  }
});

test('words that only the final transcript shows stop the agent when it comes, and are answered', async () => {
  const c = await callSaying({ partial: '', final: 'hold on a second', finalDelayMs: 100 });
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
  const c = await callSaying({ partial: 'wait', final: 'wait', finalDelayMs: 50 }, { interruptMinWords: 2 });
  try {
    await sayOverAgentAndStop(c);
    assert.equal(clears(c.transport.events), 0);
    assert.deepEqual(await eventData(c, 'speech_over_agent.ignored'), { reason: 'too_few_words', said: 'wait' });
    assert.equal(c.llm.requests.length, 1);
  } finally {
    await c.end();
  }
});

test('the agent’s own words coming back through the echo gate neither stop it nor get answered', async () => {
  const c = await callSaying({ partial: 'breakfast is served', final: 'breakfast is served from', finalDelayMs: 50 }, { interruptMinWords: 1 }, { agent: { echoSuppression: true } });
  try {
    await sayOverAgentAndStop(c);
    assert.equal(clears(c.transport.events), 0);
    assert.deepEqual(await eventData(c, 'speech_over_agent.ignored'), { reason: 'echo', said: 'breakfast is served from' });
    assert.equal(c.llm.requests.length, 1);
  } finally {
    await c.end();
  }
});

test('by default (interruptMinWords 0) the same "okay" stops the agent at bargeInMs, as before', async () => {
  const c = await callSaying({ partial: 'okay', final: 'okay', finalDelayMs: 50 }, {});
  try {
    await c.feed(true, 8);
    assert.equal(clears(c.transport.events), 1);
  } finally {
    await c.end();
  }
});
