import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { extractSlot, type DateValue, type SlotType, type SlotValue, type TimeValue } from './slots.js';
import { MONDAY } from './test-support.js';

const ctx = { now: MONDAY, timezone: 'America/New_York' };
const get = (type: SlotType, utterance: string): SlotValue | undefined => extractSlot(type, utterance, ctx);
const iso = (utterance: string, now = ctx): string | undefined => (extractSlot('date', utterance, now) as DateValue | undefined)?.iso;
const hhmm = (utterance: string): string | undefined => (get('time', utterance) as TimeValue | undefined)?.hhmm;

describe('number slots', () => {
  it('reads digits and number words', () => {
    assert.equal(get('number', '3'), 3);
    assert.equal(get('number', 'three nights'), 3);
    assert.equal(get('number', 'twenty one'), 21);
    assert.equal(get('number', 'one hundred and five'), 105);
    assert.equal(get('number', 'a hundred'), 100);
    assert.equal(get('number', 'two thousand and twelve'), 2012);
    assert.equal(get('number', 'a couple of nights'), 2);
  });

  it('reads misheard numbers where context allows', () => {
    assert.equal(get('number', "i'd like to look a room for tree nights"), 3);
    assert.equal(get('number', 'for nights'), 4);
    assert.equal(get('number', 'to'), 2);
  });

  it('does not read common words as numbers', () => {
    assert.equal(get('number', 'i want to book a room'), undefined);
    assert.equal(get('number', 'for friday please'), undefined);
    assert.equal(get('number', ''), undefined);
  });
});

describe('date slots (now: Monday 23 November 2026, New York)', () => {
  it('resolves weekday names to the coming such day, today included', () => {
    assert.deepEqual(get('date', 'starting friday'), { kind: 'date', iso: '2026-11-27', spoken: 'Friday, November 27th' });
    assert.equal(iso('monday'), '2026-11-23');
    assert.equal(iso('next monday'), '2026-11-30');
    assert.equal(iso('sunday'), '2026-11-29');
  });

  it('understands misrecognised weekday names', () => {
    assert.equal(iso('starting fry day'), '2026-11-27');
    assert.equal(iso('on wensday'), '2026-11-25');
    assert.equal(iso('thurs day'), '2026-11-26');
  });

  it('understands relative words', () => {
    assert.equal(iso('today'), '2026-11-23');
    assert.equal(iso('tomorrow please'), '2026-11-24');
    assert.equal(iso('the day after tomorrow'), '2026-11-25');
    assert.equal(iso('in three days'), '2026-11-26');
    assert.equal(iso('this weekend'), '2026-11-28');
  });

  it('understands days of the month, month names and ISO dates', () => {
    assert.equal(iso('the 5th'), '2026-12-05');
    assert.equal(iso('on the twenty fifth'), '2026-11-25');
    assert.equal(iso('march third'), '2027-03-03');
    assert.equal(iso('the third of march'), '2027-03-03');
    assert.equal(iso('november twenty seventh'), '2026-11-27');
    assert.equal(iso('december 24 2027'), '2027-12-24');
    assert.equal(iso('2026-12-24'), '2026-12-24');
    assert.equal((get('date', 'march third') as DateValue).spoken, 'Wednesday, March 3rd');
  });

  it('computes today in the tenant time zone, not UTC', () => {
    // 02:00 UTC on the 24th is still the evening of the 23rd in New York.
    const lateEvening = { now: new Date('2026-11-24T02:00:00Z'), timezone: 'America/New_York' };
    assert.equal(iso('tomorrow', lateEvening), '2026-11-24');
    assert.equal(iso('tomorrow', { now: lateEvening.now, timezone: 'UTC' }), '2026-11-25');
  });

  it('finds no date in speech without one', () => {
    assert.equal(get('date', 'three nights'), undefined);
    assert.equal(get('date', 'may i book a room'), undefined);
  });
});

describe('time slots', () => {
  it('reads clock times', () => {
    assert.equal(hhmm('7:30 pm'), '19:30');
    assert.equal(hhmm('7pm'), '19:00');
    assert.equal(hhmm('seven p m'), '19:00');
    assert.equal(hhmm('seven thirty in the morning'), '07:30');
    assert.equal(hhmm('nineteen hundred'), undefined);
    assert.equal(hhmm('19:15'), '19:15');
  });

  it('reads spoken idioms', () => {
    assert.equal(hhmm('noon'), '12:00');
    assert.equal(hhmm('midnight'), '00:00');
    assert.equal(hhmm('half past six in the evening'), '18:30');
    assert.equal(hhmm('quarter to eight'), '07:45');
    assert.equal(hhmm('seven o clock'), '07:00');
  });

  it('guesses business hours without a.m./p.m.', () => {
    assert.equal(hhmm('seven thirty'), '07:30');
    assert.equal(hhmm('around three'), '15:00');
  });

  it('gives a spoken form', () => {
    assert.equal((get('time', '7:05 pm') as TimeValue).spoken, 'seven oh five p.m.');
  });
});

describe('name slots', () => {
  it('takes the words after a name marker, capitalised', () => {
    assert.equal(get('name', 'my name is john smith'), 'John Smith');
    assert.equal(get('name', 'hi this is anna calling about a booking'), 'Anna');
    assert.equal(get('name', "it's maria"), 'Maria');
    assert.equal(get('name', 'im david'), 'David');
  });

  it('takes a short bare answer as the name', () => {
    assert.equal(get('name', 'um peter jones'), 'Peter Jones');
  });

  it('does not take ordinary words for a name', () => {
    assert.equal(get('name', "it's fine"), undefined);
    assert.equal(get('name', 'i would like to book a room please'), undefined);
  });
});

describe('phone, yes/no, enum and text slots', () => {
  it('reads phone numbers spoken digit by digit', () => {
    assert.deepEqual(get('phone', 'five five five oh one two three four five six'), {
      kind: 'phone',
      digits: '5550123456',
      spoken: '5 5 5, 0 1 2, 3 4 5 6',
    });
    assert.equal((get('phone', 'plus one eight hundred five five five twelve thirty four') as { digits: string }).digits, '+18005551234');
    assert.equal((get('phone', 'double five five to one two three') as { digits: string }).digits, '5552123');
    assert.equal(get('phone', 'one two three'), undefined);
  });

  it('reads yes and no', () => {
    assert.equal(get('yesno', 'yes please'), true);
    assert.equal(get('yesno', "yeah that's right"), true);
    assert.equal(get('yesno', 'no thanks'), false);
    assert.equal(get('yesno', "that's not right"), false);
    assert.equal(get('yesno', 'hmm'), undefined);
  });

  it('matches enum values fuzzily', () => {
    const values = ['single', 'double', 'king suite'];
    assert.equal(extractSlot('enum', 'a dabble room please', { ...ctx, values }), 'double');
    assert.equal(extractSlot('enum', 'the king suite', { ...ctx, values }), 'king suite');
    assert.equal(extractSlot('enum', 'a tent', { ...ctx, values }), undefined);
  });

  it('keeps free text as said', () => {
    assert.equal(get('text', ' late arrival around midnight '), 'late arrival around midnight');
    assert.equal(get('text', '   '), undefined);
  });
});
