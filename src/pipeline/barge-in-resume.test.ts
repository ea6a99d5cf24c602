// What an interruption leaves behind: a backchannel lets the agent go on with everything it meant
// to say (including words its model produced after the interruption), soon after the caller
// stops; real words stop the agent's model and are answered.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ChatRequest, LlmProvider } from '../providers/types.js';
import { callWith, FIRST_QUESTION, sleep } from './interruption-test-support.js';
import { PartialThenFinalStt } from './session-test-support.js';
import type { SessionTools } from './voice-session.js';

test('a backchannel while the model is still writing: the agent goes on with every sentence, including those written after the interruption', async () => {
  const c = await callWith(['what is on', 'okay']);
  try {
    assert.deepEqual(c.tts.said, ['Breakfast is served from seven.'], 'speaking the first sentence');
    await c.feed(true, 15); // "okay" over the agent: a barge-in after 150 ms of it
    assert.deepEqual(c.transport.events, ['clear']);
    // 320 ms of silence ends an utterance that may be a backchannel (backchannelSilenceMs 300, not 600).
    await c.feed(false, 16);
    await sleep(800); // the model writes its last two sentences meanwhile
    const types = (await c.events()).map((e) => e.type);
    assert.ok(types.includes('barge_in.resumed'), `resumed (events: ${types.join(', ')})`);
    assert.equal(c.llm.requests.length, 1, 'the agent was not asked about "okay"');
    assert.equal(c.llm.requests[0]!.signal.aborted, false, 'the model was not stopped by the backchannel');
    const resumedSaid = c.tts.said.slice(1).join(' ');
    assert.match(resumedSaid, /Breakfast is served from seven\. The pool opens at nine\. The spa is on the top floor\./);
  } finally {
    await c.end();
  }
});

test('the rest of the interrupted sentence is synthesised while the caller speaks, once, and a backchannel resumes with that audio', async () => {
  const c = await callWith(['what is on', 'okay']);
  try {
    c.session.onAudioSent(1000, performance.now());
    await sleep(450); // about two of the sentence's five words heard
    await c.feed(true, 15); // "okay": the barge-in comes after 150 ms of it
    const atBargeIn = c.tts.said.length;
    assert.match(c.tts.said.at(-1) ?? '', /^(served )?from seven\.$/, 'the rest of the sentence (not what follows it) is being synthesised at once');
    await c.feed(false, 16);
    await sleep(400);
    assert.ok((await c.events()).some((e) => e.type === 'barge_in.resumed'));
    assert.ok(!c.tts.said.slice(atBargeIn).some((t) => /from seven/.test(t)), 'the resumption did not synthesise it again');
    assert.ok(c.transport.played > 0);
  } finally {
    await c.end();
  }
});

test('a backchannel by its partial words resumes the agent at turn end, without waiting for a slow final transcript', async () => {
  const stt = new PartialThenFinalStt([
    FIRST_QUESTION,
    { partial: 'okay', final: 'okay', finalDelayMs: 600 },
  ]);
  const c = await callWith(stt);
  try {
    await c.feed(true, 15);
    await c.feed(false, 16); // the turn ends after 300 ms of silence; the final is 600 ms away
    await sleep(100);
    const resumed = (await c.events()).find((e) => e.type === 'barge_in.resumed');
    assert.ok(resumed, `resumed before the final transcript: ${JSON.stringify(await c.events())}`);
    assert.equal((resumed.data as { decidedOn?: string }).decidedOn, 'partial');
    assert.match(await c.metrics.registry.metrics(), /parley_barge_in_resumes_total\{reason="backchannel",decided_on="partial"\} 1/);
    await sleep(700);
    assert.equal(c.llm.requests.length, 1, 'the final "okay" is not answered either');
    assert.equal(c.transport.events.filter((e) => e === 'clear').length, 1, 'and does not stop the agent again');
  } finally {
    await c.end();
  }
});

test('when the final transcript has more than the backchannel the partial showed, the resumed agent stops and the words are answered', async () => {
  const stt = new PartialThenFinalStt([
    FIRST_QUESTION,
    { partial: 'okay', final: 'okay but what about parking', finalDelayMs: 300 },
  ]);
  const c = await callWith(stt);
  try {
    await c.feed(true, 15);
    await c.feed(false, 16);
    await sleep(600);
    const types = (await c.events()).map((e) => e.type);
    assert.ok(types.includes('barge_in.resumed') && types.includes('barge_in.resume_withdrawn'), types.join(', '));
    assert.equal(c.llm.requests.length, 2, 'the caller was answered');
    assert.deepEqual(c.llm.requests[1]!.req.messages.at(-1), { role: 'user', content: 'okay but what about parking' });
  } finally {
    await c.end();
  }
});

test('a final transcript that is the agent’s own words coming back (echo) does not withdraw a resumption decided on the partial', async () => {
  const stt = new PartialThenFinalStt([
    FIRST_QUESTION,
    { partial: 'okay', final: 'breakfast is', finalDelayMs: 300 },
  ]);
  const c = await callWith(stt);
  try {
    c.session.onAudioSent(1000, performance.now());
    await sleep(450); // "Breakfast is" heard, and coming back as echo; the resumption starts at "served"
    await c.feed(true, 15);
    await c.feed(false, 16);
    await sleep(600);
    const types = (await c.events()).map((e) => e.type);
    assert.ok(types.includes('barge_in.resumed') && !types.includes('barge_in.resume_withdrawn'), types.join(', '));
    assert.equal(c.llm.requests.length, 1, 'its own words are not answered');
    assert.equal(c.transport.events.filter((e) => e === 'clear').length, 1, 'and do not stop it again');
  } finally {
    await c.end();
  }
});

test('real words over the agent stop its model and are answered', async () => {
  const c = await callWith(['what is on', 'no I meant the restaurant']);
  try {
    await c.feed(true, 40);
    await c.feed(false, 40);
    await sleep(300);
    assert.equal(c.llm.requests.length, 2, 'the interruption was answered');
    assert.equal(c.llm.requests[0]!.signal.aborted, true, 'the interrupted reply was stopped for good');
    assert.deepEqual(c.llm.requests[1]!.req.messages.at(-1), { role: 'user', content: 'no I meant the restaurant' });
    const types = (await c.events()).map((e) => e.type);
    assert.ok(!types.includes('barge_in.resumed'));
    assert.ok(!c.tts.said.some((t) => /pool|spa/.test(t)), 'nothing written after the interruption was spoken');
    // The agent is told what it had not said yet, so it can come back to it.
    assert.deepEqual(c.llm.requests[1]!.req.messages.at(-2), {
      role: 'assistant',
      content: '[interrupted by the caller; not said: "Breakfast is served from seven."]',
    });
  } finally {
    await c.end();
  }
});

test('after a real interruption mid-sentence the history holds what was heard, then what was not said', async () => {
  const c = await callWith(['what is on', 'and the spa']);
  try {
    c.session.onAudioSent(1000, performance.now()); // the sentence's second of audio starts playing now
    await sleep(450); // about two of its five words heard
    await c.feed(true, 40);
    await c.feed(false, 40);
    await sleep(300);
    const note = c.llm.requests[1]!.req.messages.at(-2);
    assert.equal(note?.role, 'assistant');
    assert.match(note!.content, /^Breakfast is( served)? — \[interrupted by the caller; not said: "(served )?from seven\.( The pool opens at nine\.)?"\]$/);
  } finally {
    await c.end();
  }
});

test('speech longer than a backchannel waits for the usual silence before its turn ends', async () => {
  const c = await callWith(['what is on', 'okay']);
  try {
    await c.feed(true, 50); // 1 s: too long for a backchannel, whatever it turns out to say
    await c.feed(false, 20); // 400 ms: enough for a backchannel, not for a turn (600 ms)
    await sleep(100);
    let types = (await c.events()).map((e) => e.type);
    assert.ok(!types.includes('barge_in.resumed'), 'the turn has not ended yet');
    await c.feed(false, 12); // 640 ms in all
    await sleep(200);
    types = (await c.events()).map((e) => e.type);
    assert.ok(types.includes('barge_in.resumed'), `then it is judged (events: ${types.join(', ')})`);
  } finally {
    await c.end();
  }
});

test('backchannelSilenceMs is configurable per agent', async () => {
  const c = await callWith(['what is on', 'okay'], { backchannelSilenceMs: 500 });
  try {
    await c.feed(true, 15);
    await c.feed(false, 18); // 360 ms: not yet
    await sleep(100);
    assert.ok(!(await c.events()).some((e) => e.type === 'barge_in.resumed'));
    await c.feed(false, 8); // 520 ms
    await sleep(200);
    assert.ok((await c.events()).some((e) => e.type === 'barge_in.resumed'));
  } finally {
    await c.end();
  }
});

test('a data tool the reply had already started runs once, even when a backchannel makes the reply resume', async () => {
  let runs = 0;
  const tools: SessionTools = {
    byName: new Map([
      ['lookup', { spec: { name: 'lookup', description: 'looks up', parameters: { type: 'object', properties: {} } }, run: async () => ({ ok: true, data: { x: 1 } }) }],
    ]),
    context: { tenant: {} as never, agentId: 'a', agent: {} as never, callId: 'c', remoteNumber: '+1', localNumber: '+2', nowMs: () => Date.now() },
    run: async (tool, args, ctx) => {
      runs++;
      return tool.run(args, ctx);
    },
  };
  const llm: LlmProvider = {
    name: 'tooling',
    async *complete() {
      yield { kind: 'text', text: 'Let me check that for you. ' };
      yield { kind: 'tool_call', call: { id: 't1', name: 'lookup', arguments: {} } };
    },
  };
  const c = await callWith(['what is on', 'okay'], {}, { llm, tools });
  try {
    await sleep(100);
    assert.equal(runs, 1, 'started as soon as the model asked, while its words play');
    await c.feed(true, 15);
    await c.feed(false, 16);
    await sleep(400);
    assert.ok((await c.events()).some((e) => e.type === 'barge_in.resumed'));
    assert.equal(runs, 1, 'not run again by the resumed reply');
  } finally {
    await c.end();
  }
});

test('a reply cut off for good after its tools ran leaves the tool calls and their results in the history', async () => {
  const tools: SessionTools = {
    byName: new Map([
      ['book', { spec: { name: 'book', description: 'books', parameters: { type: 'object', properties: {} } }, run: async () => ({ ok: true, data: { reference: 'R1' } }) }],
    ]),
    context: { tenant: {} as never, agentId: 'a', agent: {} as never, callId: 'c', remoteNumber: '+1', localNumber: '+2', nowMs: () => Date.now() },
    run: async (tool, args, ctx) => {
      await sleep(200); // still running when the caller's next turn is ready
      return tool.run(args, ctx);
    },
  };
  const requests: ChatRequest[] = [];
  const llm: LlmProvider = {
    name: 'booking',
    async *complete(req) {
      requests.push(req);
      if (requests.length > 1) return;
      yield { kind: 'text', text: 'Let me book that for you. ' };
      yield { kind: 'tool_call', call: { id: 't1', name: 'book', arguments: {} } };
    },
  };
  const c = await callWith(['book it', 'no wait'], {}, { llm, tools });
  try {
    await c.feed(true, 15);
    await c.feed(false, 16);
    await sleep(500);
    assert.equal(requests.length, 2, 'the interruption was answered');
    const messages = requests[1]!.messages;
    assert.deepEqual(messages.at(-1), { role: 'user', content: 'no wait' });
    const call = messages.at(-3);
    assert.equal(call?.role, 'assistant');
    assert.deepEqual(call?.role === 'assistant' ? call.toolCalls : undefined, [{ id: 't1', name: 'book', arguments: {} }]);
    assert.match(call!.content, /not said: "Let me book that for you\."/);
    const result = messages.at(-2);
    assert.equal(result?.role, 'tool');
    assert.match(result!.content, /R1/);
  } finally {
    await c.end();
  }
});
