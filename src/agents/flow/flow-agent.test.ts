import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ChatMessage, LlmDelta, ToolCall } from '../../providers/types.js';
import { FlowAgent, flowAgentToolNames, splitSentences } from './flow-agent.js';
import { flowSchema } from './schema.js';
import { MONDAY, loadHotelFlow } from './test-support.js';

const hotel = loadHotelFlow();
const newAgent = (): FlowAgent => new FlowAgent(hotel, { now: () => MONDAY });

interface Reply {
  readonly text: string;
  readonly chunks: string[];
  readonly calls: ToolCall[];
}

/** One caller turn through complete(), with the history a session would send. */
async function say(agent: FlowAgent, history: ChatMessage[], utterance: string, signal = new AbortController().signal): Promise<Reply> {
  history.push({ role: 'user', content: utterance });
  const chunks: string[] = [];
  const calls: ToolCall[] = [];
  for await (const d of agent.complete({ messages: history }, { signal })) {
    if (d.kind === 'text') chunks.push(d.text);
    else if (d.kind === 'tool_call') calls.push(d.call);
  }
  const text = chunks.join('');
  history.push({ role: 'assistant', content: text, ...(calls.length > 0 ? { toolCalls: calls } : {}) });
  return { text, chunks, calls };
}

describe('FlowAgent with the hotel flow', () => {
  it('books a room, answers breakfast hours and ends the call on goodbye', async () => {
    const agent = newAgent();
    const history: ChatMessage[] = [{ role: 'system', content: 'ignored by the flow agent' }];

    const r1 = await say(agent, history, 'hi i want to book a room');
    assert.match(r1.text, /how many nights/i);
    assert.ok(r1.chunks.length >= 2, 'two sentences stream as two chunks');
    assert.equal(agent.state, 'booking');

    const r2 = await say(agent, history, 'three nights');
    assert.match(r2.text, /what day/i);
    assert.deepEqual({ ...agent.slots }, { nights: 3 });

    const r3 = await say(agent, history, 'starting friday');
    assert.match(r3.text, /three nights starting Friday, November 27th/);
    assert.match(r3.text, /anything else/i);
    assert.equal(agent.state, 'main');
    assert.deepEqual(agent.slots['start_day'], { kind: 'date', iso: '2026-11-27', spoken: 'Friday, November 27th' });

    const r4 = await say(agent, history, 'what time is breakfast');
    assert.match(r4.text, /breakfast is served .*six thirty to ten thirty/i);
    assert.deepEqual(r4.calls, []);

    const r5 = await say(agent, history, 'goodbye');
    assert.match(r5.text, /goodbye/i);
    assert.equal(r5.calls.length, 1);
    assert.equal(r5.calls[0]?.name, 'end_call');
    assert.deepEqual(r5.calls[0]?.arguments, { reason: 'caller_goodbye' });
  });

  it('takes nights from a misrecognised booking request and asks only for the day', async () => {
    const agent = newAgent();
    const r = await say(agent, [], "i'd like to look a room for tree nights");
    assert.equal(agent.state, 'booking');
    assert.deepEqual({ ...agent.slots }, { nights: 3 });
    assert.match(r.text, /what day/i);
    assert.doesNotMatch(r.text, /how many nights/i);
  });

  it('fills both slots from one answer and accepts "fry day"', async () => {
    const agent = newAgent();
    const history: ChatMessage[] = [];
    await say(agent, history, 'can i make a reservation');
    const r = await say(agent, history, 'two nights starting fry day');
    assert.match(r.text, /two nights starting Friday, November 27th/);
  });

  it('answers a pool question in the middle of a booking and asks the pending question again', async () => {
    const agent = newAgent();
    const history: ChatMessage[] = [];
    await say(agent, history, 'book a room please');
    const r = await say(agent, history, 'what time does the pool open');
    assert.match(r.text, /pool is open .* How many nights/s);
    assert.equal(agent.state, 'booking');
  });

  it('transfers to the front desk when the caller asks for a person', async () => {
    const r = await say(newAgent(), [], 'can i speak to a real person');
    assert.equal(r.text, 'Connecting you to the front desk now.');
    assert.deepEqual(
      r.calls.map((c) => [c.name, c.arguments]),
      [['transfer_call', { to: '+15550100001', mode: 'cold' }]],
    );
  });

  it('rotates fallback replies and transfers after three misses in a row', async () => {
    const agent = newAgent();
    const history: ChatMessage[] = [];
    const r1 = await say(agent, history, 'the weather is nice');
    const r2 = await say(agent, history, 'purple elephants');
    assert.notEqual(r1.text, r2.text);
    assert.deepEqual([...r1.calls, ...r2.calls], []);
    const r3 = await say(agent, history, 'blah blah');
    assert.match(r3.text, /connect you to the front desk/i);
    assert.equal(r3.calls[0]?.name, 'transfer_call');
  });

  it('resets the miss count after an understood turn', async () => {
    const agent = newAgent();
    const history: ChatMessage[] = [];
    await say(agent, history, 'the weather is nice');
    await say(agent, history, 'purple elephants');
    await say(agent, history, 'when is breakfast');
    const r = await say(agent, history, 'blah blah');
    assert.deepEqual(r.calls, []);
  });

  it('treats an empty utterance as a miss and repeats the pending slot question', async () => {
    const agent = newAgent();
    const history: ChatMessage[] = [];
    await say(agent, history, 'i want to book a room');
    const r = await say(agent, history, '   ');
    assert.match(r.text, /^Sorry.*How many nights will you be staying\?$/);
  });

  it('starts a second booking from scratch', async () => {
    const agent = newAgent();
    const history: ChatMessage[] = [];
    await say(agent, history, 'book a room for three nights');
    await say(agent, history, 'friday');
    const r = await say(agent, history, 'i want to book another room');
    assert.match(r.text, /how many nights/i);
    assert.deepEqual({ ...agent.slots }, {});
  });

  it('gives every tool call a distinct id', async () => {
    const ids = new Set<string>();
    for (let i = 0; i < 5; i++) for (const c of (await say(newAgent(), [], 'goodbye')).calls) ids.add(c.id);
    assert.equal(ids.size, 5);
    assert.deepEqual([...flowAgentToolNames], ['end_call', 'transfer_call']);
  });
});

describe('FlowAgent streaming', () => {
  it('stops yielding once the signal aborts', async () => {
    const agent = newAgent();
    const ac = new AbortController();
    const seen: LlmDelta[] = [];
    for await (const d of agent.complete({ messages: [{ role: 'user', content: 'thank you goodbye' }] }, { signal: ac.signal })) {
      seen.push(d);
      ac.abort();
    }
    assert.equal(seen.length, 1, 'only the chunk before the abort');
    assert.equal(seen[0]?.kind, 'text');
  });

  it('yields nothing and keeps its state when called already aborted', async () => {
    const agent = newAgent();
    const ac = new AbortController();
    ac.abort();
    const seen: LlmDelta[] = [];
    for await (const d of agent.complete({ messages: [{ role: 'user', content: 'book a room' }] }, { signal: ac.signal })) seen.push(d);
    assert.deepEqual(seen, []);
    assert.equal(agent.state, 'main');
  });

  it('says nothing after a tool result and the initial prompt before any user message', async () => {
    const flow = flowSchema.parse({
      start: 'ask',
      states: { ask: { say: 'Welcome.', slots: [{ name: 'guest', type: 'name', prompt: 'May I have your name?' }] } },
    });
    const agent = new FlowAgent(flow);
    assert.equal(agent.initialPrompt(), 'Welcome. May I have your name?');
    const collect = async (messages: ChatMessage[]): Promise<string> => {
      let out = '';
      for await (const d of agent.complete({ messages }, { signal: new AbortController().signal })) if (d.kind === 'text') out += d.text;
      return out;
    };
    assert.equal(await collect([]), 'Welcome. May I have your name?');
    assert.equal(await collect([{ role: 'user', content: 'bye' }, { role: 'tool', toolCallId: 'x', content: 'ok' }]), '');
  });

  it('splits text into sentences without breaking "p.m." and keeps the text intact', () => {
    const text = 'We open at seven a.m. and close at ten p.m. Anything else? Yes!';
    const chunks = splitSentences(text);
    assert.deepEqual(chunks, ['We open at seven a.m. and close at ten p.m. ', 'Anything else? ', 'Yes!']);
    assert.equal(chunks.join(''), text);
  });
});

describe('FlowAgent with a small flow', () => {
  const flow = flowSchema.parse({
    start: 'ask',
    fallback: { replies: ['Pardon?'] },
    globalIntents: [{ name: 'who', keywords: ['who'], reply: 'You are calling from {{caller.number|an unknown number}}.' }],
    states: {
      ask: {
        slots: [
          { name: 'guest', type: 'name', prompt: 'Your name?' },
          { name: 'ok', type: 'yesno', prompt: 'Shall I note that, {{guest}}?' },
        ],
        onComplete: { say: 'Noted, {{guest}}.', action: { type: 'end_call' } },
      },
    },
  });

  it('fills slots in order, templates prompts and ends with the completion action', () => {
    const agent = new FlowAgent(flow);
    assert.equal(agent.respond('my name is ada lovelace').text, 'Shall I note that, Ada Lovelace?');
    const done = agent.respond('yes please');
    assert.equal(done.text, 'Noted, Ada Lovelace.');
    assert.deepEqual(done.toolCalls.map((c) => [c.name, c.arguments]), [['end_call', { reason: 'completed' }]]);
  });

  it('renders call variables and re-asks the pending slot after a global intent', () => {
    const agent = new FlowAgent(flow, { variables: { 'caller.number': '+15551234567' } });
    assert.equal(agent.respond('who is this').text, 'You are calling from +15551234567. Your name?');
    assert.equal(new FlowAgent(flow).respond('who').text, 'You are calling from an unknown number. Your name?');
  });
});

describe('FlowAgent actions', () => {
  const flow = flowSchema.parse({
    start: 'main',
    fallback: { replies: ['Sorry, press 1 for bookings or 0 for the front desk.'] },
    slots: { guests: { type: 'number' } },
    globalIntents: [
      { name: 'desk', dtmf: '0', keywords: ['front desk', 'operator'], reply: 'Connecting you.', action: { type: 'transfer', to: '+15550100001', mode: 'warm', summary: 'Caller {{caller.number}} asked for the desk.' } },
      { name: 'directions', keywords: ['directions', 'address'], reply: "I'll text you our address.", action: { type: 'send_sms', body: 'Seaview Hotel, 12 Harbour Rd. Call {{desk|us}} anytime.' } },
    ],
    states: {
      main: {
        intents: [
          { name: 'book', dtmf: '1', keywords: ['book', 'reservation'], goto: 'booking' },
          { name: 'one', keywords: ['one'], reply: 'You said one.' },
        ],
      },
      booking: {
        slots: [
          { name: 'nights', type: 'number', prompt: 'How many nights?' },
          { name: 'day', type: 'date', prompt: 'Which day?' },
          { name: 'phone', type: 'phone', prompt: 'Please enter your phone number.' },
        ],
        onComplete: {
          say: 'Booked.',
          actions: [
            { type: 'tool', name: 'book_room', arguments: { nights: '{{nights}}', start: '{{day}}', phone: '{{phone}}', note: '{{nights}} nights from {{day.iso}}', tags: ['web', '{{day}}'], guests: 2 } },
            { type: 'send_sms', body: 'Booked {{nights}} nights from {{day}}.' },
            { type: 'schedule_callback', inMinutes: 1440, reason: 'confirm {{day.iso}}' },
          ],
          goto: 'main',
        },
      },
    },
  });
  const agent = () => new FlowAgent(flow, { now: () => MONDAY, timezone: 'America/New_York', variables: { 'caller.number': '+15551234567' } });

  it('runs several actions in order with templated arguments, slot values as data, and keeps the dialog going', () => {
    const a = agent();
    a.respond('i want to book');
    a.respond('three nights');
    a.respond('friday');
    const done = a.respond('five five five oh one two three four five six');
    assert.equal(done.text, 'Booked.');
    assert.deepEqual(done.toolCalls.map((c) => [c.name, c.arguments]), [
      ['book_room', { nights: 3, start: '2026-11-27', phone: '5550123456', note: 'three nights from 2026-11-27', tags: ['web', '2026-11-27'], guests: 2 }],
      ['send_sms', { body: 'Booked three nights from Friday, November 27th.' }],
      ['schedule_callback', { inMinutes: 1440, reason: 'confirm 2026-11-27' }],
    ]);
    assert.equal(a.state, 'main', 'non-terminal actions do not end the dialog');
    assert.equal(a.respond('what is the address').toolCalls[0]?.name, 'send_sms');
  });

  it('emits a warm transfer with its templated briefing', () => {
    const r = agent().respond('front desk please');
    assert.deepEqual(r.toolCalls.map((c) => [c.name, c.arguments]), [['transfer_call', { to: '+15550100001', mode: 'warm', summary: 'Caller +15551234567 asked for the desk.' }]]);
  });

  it('renders a missing template value by its default in tool text', () => {
    const r = agent().respond('directions');
    assert.deepEqual(r.toolCalls[0]?.arguments, { body: 'Seaview Hotel, 12 Harbour Rd. Call us anytime.' });
  });

  it('emits send_dtmf for a send_dtmf action', () => {
    const f = flowSchema.parse({ start: 'a', states: { a: { intents: [{ name: 'menu', keywords: ['menu'], action: { type: 'send_dtmf', digits: '2w1' } }] } } });
    assert.deepEqual(new FlowAgent(f).respond('menu').toolCalls.map((c) => [c.name, c.arguments]), [['send_dtmf', { digits: '2w1' }]]);
  });
});

describe('FlowAgent keypad', () => {
  const flow = flowSchema.parse({
    start: 'main',
    fallback: { replies: ['Sorry, press 1 for bookings or 0 for the front desk.'] },
    globalIntents: [{ name: 'desk', dtmf: '0', keywords: ['operator'], reply: 'Connecting you.', action: { type: 'transfer', to: '+15550100001' } }],
    states: {
      main: {
        say: 'Main menu.',
        intents: [
          { name: 'book', dtmf: '1', keywords: ['book'], goto: 'booking' },
          { name: 'one', keywords: ['one', 'keypad'], reply: 'You said one.' },
          { name: 'star', dtmf: '*', reply: 'Menu again.' },
        ],
      },
      booking: {
        slots: [
          { name: 'nights', type: 'number', prompt: 'Enter the number of nights.' },
          { name: 'phone', type: 'phone', prompt: 'Enter your phone number.' },
          { name: 'guest', type: 'name', prompt: 'Your name?' },
        ],
      },
    },
  });

  it('selects the intent whose keys were pressed, in the state or globally', () => {
    const a = new FlowAgent(flow);
    const r = a.respond('[keypad] 1');
    assert.equal(r.intent, 'book');
    assert.equal(a.state, 'booking');
    assert.equal(r.text, 'Enter the number of nights.');
    const desk = new FlowAgent(flow).respond('[keypad] 0');
    assert.equal(desk.intent, 'desk');
    assert.equal(desk.toolCalls[0]?.name, 'transfer_call');
    assert.equal(new FlowAgent(flow).respond('[keypad] *').text, 'Menu again.');
  });

  it('fills number and phone slots from keys, but not other slot types', () => {
    const a = new FlowAgent(flow);
    a.respond('[keypad] 1');
    assert.equal(a.respond('[keypad] 3').text, 'Enter your phone number.');
    assert.equal(a.respond('[keypad] 5550123456').text, 'Your name?');
    assert.deepEqual(a.slots['nights'], 3);
    assert.deepEqual(a.slots['phone'], { kind: 'phone', digits: '5550123456', spoken: '5 5 5, 0 1 2, 3 4 5 6' });
    const miss = a.respond('[keypad] 42');
    assert.equal(miss.fallback, true);
    assert.equal(a.slots['guest'], undefined);
  });

  it('sends a keypad entry that matches nothing to the fallback, never to a fuzzy match', () => {
    const a = new FlowAgent(flow);
    const r = a.respond('[keypad] 7');
    assert.equal(r.fallback, true);
    assert.equal(r.text, 'Sorry, press 1 for bookings or 0 for the front desk.');
    assert.equal(a.state, 'main');
    assert.equal(new FlowAgent(flow).respond('one').text, 'You said one.', 'speech still matches fuzzily');
  });
});
