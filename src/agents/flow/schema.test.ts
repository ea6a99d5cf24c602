import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { flowSchema, flowToolNames, flowTransferDestinations } from './schema.js';
import { loadHotelDocument } from './test-support.js';

function issues(input: unknown): { path: string; message: string }[] {
  const r = flowSchema.safeParse(input);
  assert.equal(r.success, false, 'expected validation to fail');
  return r.error!.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
}

const minimal = {
  start: 'main',
  states: {
    main: { intents: [{ name: 'hello', keywords: ['hello'], reply: 'Hi.' }] },
  },
};

describe('flowSchema', () => {
  it('accepts the hotel tenant flow and keeps the tenant keys the lead relies on', () => {
    const doc = loadHotelDocument();
    const r = flowSchema.safeParse(doc.agent.flow);
    assert.ok(r.success, r.success ? '' : JSON.stringify(r.error.issues, null, 1));
    assert.equal(doc['id'], 'seaview-hotel');
    assert.deepEqual(doc['phoneNumbers'], ['+15550100000']);
    assert.equal(r.data.start, 'main');
    assert.ok(r.data.states['booking']?.slots?.some((s) => s.name === 'nights' && s.type === 'number'));
  });

  it('defaults a state without intents to an empty list', () => {
    const flow = flowSchema.parse({ start: 'a', states: { a: { say: 'Hello.' } } });
    assert.deepEqual(flow.states['a']?.intents, []);
  });

  it('rejects a goto to a missing state with a path naming the goto', () => {
    const bad = {
      start: 'main',
      states: { main: { intents: [{ name: 'x', keywords: ['x'] }, { name: 'book', keywords: ['book'], goto: 'bookng' }] } },
    };
    const found = issues(bad);
    assert.deepEqual(found.map((i) => i.path), ['states.main.intents.1.goto']);
    assert.match(found[0]!.message, /bookng/);
  });

  it('rejects an unknown start, a bad onComplete goto and a bad global goto, each at its own path', () => {
    const found = issues({
      start: 'nowhere',
      states: { main: { intents: [], slots: [{ name: 'n', type: 'number', prompt: 'How many?' }], onComplete: { goto: 'gone' } } },
      globalIntents: [{ name: 'bye', keywords: ['bye'], goto: 'exit' }],
    });
    assert.deepEqual(found.map((i) => i.path).sort(), ['globalIntents.0.goto', 'start', 'states.main.onComplete.goto']);
  });

  it('rejects captures of undeclared slots', () => {
    const found = issues({
      start: 'main',
      states: { main: { intents: [{ name: 'book', keywords: ['book'], captures: ['nights'] }] } },
    });
    assert.deepEqual(found.map((i) => i.path), ['states.main.intents.0.captures.0']);
  });

  it('accepts captures of slots declared at flow level', () => {
    const r = flowSchema.safeParse({
      start: 'main',
      slots: { nights: { type: 'number' } },
      states: { main: { intents: [{ name: 'book', keywords: ['book'], captures: ['nights'] }] } },
    });
    assert.ok(r.success);
  });

  it('rejects an enum slot without values and a slot name used with two types', () => {
    const found = issues({
      start: 'a',
      slots: { size: { type: 'enum' } },
      states: {
        a: { slots: [{ name: 'when', type: 'date', prompt: 'When?' }] },
        b: { slots: [{ name: 'when', type: 'time', prompt: 'What time?' }] },
      },
    });
    assert.deepEqual(found.map((i) => i.path).sort(), ['slots.size.values', 'states.b.slots.0.type']);
  });

  it('rejects misspelt keys instead of ignoring them', () => {
    const found = issues({ start: 'main', states: { main: { intents: [{ name: 'x', keywords: ['x'], go_to: 'main' }] } } });
    assert.equal(found[0]?.path, 'states.main.intents.0');
    assert.match(found[0]!.message, /go_to/);
  });

  it('rejects an intent with nothing to match and an invalid regex', () => {
    const found = issues({
      start: 'main',
      states: { main: { intents: [{ name: 'empty', reply: 'Hi.' }, { name: 're', patterns: ['(unclosed'] }] } },
    });
    assert.deepEqual(found.map((i) => i.path).sort(), ['states.main.intents.0', 'states.main.intents.1.patterns.0']);
  });

  it('rejects transfer targets that are neither E.164 nor SIP, and accepts both forms', () => {
    const flowWith = (to: string) => ({
      ...minimal,
      globalIntents: [{ name: 'op', keywords: ['operator'], action: { type: 'transfer', to } }],
    });
    assert.deepEqual(issues(flowWith('555-0100')).map((i) => i.path), ['globalIntents.0.action.to']);
    assert.ok(flowSchema.safeParse(flowWith('+15550100001')).success);
    assert.ok(flowSchema.safeParse(flowWith('sip:desk@pbx.example.com')).success);
  });

  it('requires maxConsecutive and a fallback action together', () => {
    const found = issues({ ...minimal, fallback: { replies: ['Sorry?'], maxConsecutive: 2 } });
    assert.deepEqual(found.map((i) => i.path), ['fallback.action']);
  });

  it('rejects a ring of slotless states that would complete into each other forever', () => {
    const found = issues({
      start: 'a',
      states: { a: { onComplete: { goto: 'b' } }, b: { onComplete: { goto: 'a' } }, c: { onComplete: { goto: 'a' } } },
    });
    assert.deepEqual(found.map((i) => i.path).sort(), ['states.a.onComplete.goto', 'states.b.onComplete.goto']);
  });

  it('rejects an unknown time zone and an out-of-range threshold', () => {
    const found = issues({ ...minimal, timezone: 'Mars/Olympus', matchThreshold: 1.5 });
    assert.deepEqual(found.map((i) => i.path).sort(), ['matchThreshold', 'timezone']);
  });
});

describe('flowSchema actions', () => {
  const withIntent = (intent: Record<string, unknown>) => ({ ...minimal, globalIntents: [{ name: 'x', keywords: ['x'], ...intent }] });
  const ok = (input: unknown) => {
    const r = flowSchema.safeParse(input);
    assert.ok(r.success, r.success ? '' : JSON.stringify(r.error.issues));
    return r.data;
  };

  it('accepts the tool actions and several actions in order', () => {
    ok(withIntent({
      actions: [
        { type: 'send_sms', body: 'Your code is {{code}}.' },
        { type: 'schedule_callback', inMinutes: 30, reason: 'quote' },
        { type: 'schedule_callback', at: '{{when.iso}}T09:00:00-05:00' },
        { type: 'tool', name: 'book_table', arguments: { guests: '{{guests}}', note: 'x' } },
        { type: 'send_dtmf', digits: '1w2#' },
        { type: 'transfer', to: '+15550100001', mode: 'warm', summary: 'Caller {{name}} wants a table.' },
      ],
    }));
    ok(withIntent({ action: { type: 'send_sms', body: 'Hi.' } }));
  });

  it('rejects action together with actions, and a terminal action before others', () => {
    assert.deepEqual(issues(withIntent({ action: { type: 'end_call' }, actions: [{ type: 'end_call' }] })).map((i) => i.path), ['globalIntents.0.actions']);
    const found = issues(withIntent({ actions: [{ type: 'end_call' }, { type: 'send_sms', body: 'Bye.' }] }));
    assert.deepEqual(found.map((i) => i.path), ['globalIntents.0.actions.0']);
    assert.match(found[0]!.message, /must be the last action/);
  });

  it('rejects malformed tool actions, each at its own path', () => {
    const found = issues(withIntent({
      actions: [
        { type: 'send_sms', body: 'x'.repeat(1601) },
        { type: 'schedule_callback', reason: 'no time' },
        { type: 'schedule_callback', inMinutes: 5, at: '2026-01-01T00:00:00Z' },
        { type: 'tool', name: 'end_call' },
        { type: 'tool', name: 'bad name' },
        { type: 'send_dtmf', digits: '12x' },
        { type: 'transfer', to: '+15550100001', summary: 'cold transfers have no briefing' },
      ],
    }));
    assert.deepEqual(found.map((i) => i.path), [
      'globalIntents.0.actions.0.body',
      'globalIntents.0.actions.1.inMinutes',
      'globalIntents.0.actions.2.inMinutes',
      'globalIntents.0.actions.3.name',
      'globalIntents.0.actions.4.name',
      'globalIntents.0.actions.5.digits',
      'globalIntents.0.actions.6.summary',
    ]);
  });

  it('accepts actions lists on completions and fallbacks; a fallback list needs maxConsecutive', () => {
    ok({
      start: 'a',
      fallback: { replies: ['Sorry?'], maxConsecutive: 2, actions: [{ type: 'send_sms', body: 'Call us back.' }, { type: 'end_call' }] },
      states: { a: { say: 'Hi.', onComplete: { actions: [{ type: 'send_dtmf', digits: '1' }] } } },
    });
    assert.deepEqual(issues({ ...minimal, fallback: { replies: ['Sorry?'], actions: [{ type: 'end_call' }] } }).map((i) => i.path), ['fallback.maxConsecutive']);
  });

  it('accepts keypad intents, rejects bad keys and the same keys twice in one scope', () => {
    ok({ ...minimal, globalIntents: [{ name: 'operator', dtmf: '0', keywords: ['operator'] }, { name: 'menu', dtmf: '*' }] });
    const found = issues({ ...minimal, globalIntents: [{ name: 'a', dtmf: '1' }, { name: 'b', dtmf: '1' }, { name: 'c', dtmf: 'w' }, { name: 'd' }] });
    assert.deepEqual(found.map((i) => i.path).sort(), ['globalIntents.1.dtmf', 'globalIntents.2.dtmf', 'globalIntents.3']);
  });
});

describe('flowToolNames and flowTransferDestinations', () => {
  it('list the tools and destinations of every action list, once each', () => {
    const flow = flowSchema.parse({
      start: 'a',
      fallback: { replies: ['?'], maxConsecutive: 2, actions: [{ type: 'send_sms', body: 'x' }, { type: 'transfer', to: '+15550100009' }] },
      globalIntents: [{ name: 'g', keywords: ['g'], actions: [{ type: 'tool', name: 'crm_lookup' }, { type: 'send_sms', body: 'y' }] }],
      states: {
        a: {
          intents: [{ name: 'i', keywords: ['i'], action: { type: 'transfer', to: 'sip:desk@pbx.example.com', mode: 'warm' } }],
          onComplete: { actions: [{ type: 'schedule_callback', inMinutes: 5 }, { type: 'send_dtmf', digits: '1' }, { type: 'end_call' }] },
        },
      },
    });
    assert.deepEqual(flowToolNames(flow), ['send_sms', 'crm_lookup', 'schedule_callback', 'send_dtmf']);
    assert.deepEqual(flowTransferDestinations(flow), ['+15550100009', 'sip:desk@pbx.example.com']);
    assert.deepEqual(flowToolNames(undefined), []);
  });
});
