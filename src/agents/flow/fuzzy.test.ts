import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  exampleSimilarity,
  matchIntent,
  mergeTokens,
  normalise,
  phoneticKey,
  phraseSimilarity,
  scoreIntent,
  tokenSimilarity,
} from './fuzzy.js';
import type { FlowIntent } from './schema.js';
import { loadHotelFlow } from './test-support.js';

const flow = loadHotelFlow();
const hotelIntents = (): { state: FlowIntent[]; global: FlowIntent[] } => ({
  state: flow.states['main']!.intents,
  global: flow.globalIntents ?? [],
});
const best = (utterance: string): string | undefined => {
  const { state, global } = hotelIntents();
  return matchIntent(utterance, state, global, flow.matchThreshold ?? 0.5)?.intent.name;
};

describe('normalise', () => {
  it('lowercases, drops apostrophes and punctuation, keeps number words and digits', () => {
    assert.equal(normalise("  I'd like THREE nights, from 7:30 -- please!"), 'id like three nights from 7 30 please');
  });
});

describe('token similarity', () => {
  it('treats sound-alike misrecognitions as the same word', () => {
    assert.equal(phoneticKey('fryday'), phoneticKey('friday'));
    assert.equal(phoneticKey('tree'), phoneticKey('three'));
    assert.ok(tokenSimilarity('tree', 'three') >= 0.8);
    assert.ok(tokenSimilarity('brakefast', 'breakfast') >= 0.8);
  });

  it('does not treat a different first sound as the same word', () => {
    assert.notEqual(phoneticKey('look'), phoneticKey('book'));
    assert.ok(tokenSimilarity('look', 'book') < 0.8);
    assert.ok(tokenSimilarity('lights', 'nights') < 0.8);
  });
});

describe('n-gram merges', () => {
  it('joins split words that spell a vocabulary word', () => {
    assert.deepEqual(mergeTokens(['starting', 'fry', 'day'], ['friday']), ['starting', 'friday']);
    assert.deepEqual(mergeTokens(['when', 'is', 'break', 'fast'], ['breakfast']), ['when', 'is', 'breakfast']);
  });

  it('leaves words alone when one of them already is the vocabulary word', () => {
    assert.deepEqual(mergeTokens(['a', 'room'], ['room']), ['a', 'room']);
  });

  it('finds multi-word phrases with or without the space', () => {
    assert.equal(phraseSimilarity('front desk', ['the', 'frontdesk', 'please']), 1);
    assert.equal(phraseSimilarity('breakfast', ['break', 'fast']), 1);
  });
});

describe('scoreIntent', () => {
  it('scores a pattern hit as 1', () => {
    assert.equal(scoreIntent('nope', { name: 'no', patterns: ['^(no|nope)$'] }), 1);
  });

  it('scores a close paraphrase of an example above the threshold without keywords', () => {
    const intent = { name: 'hours', examples: ['what are your opening hours'] };
    assert.ok(scoreIntent('what are the opening hours', intent) > 0.5);
    assert.ok(exampleSimilarity('the weather is nice', 'what are your opening hours') < 0.3);
  });

  it('needs a keyword before a same-shaped sentence about something else can pass', () => {
    const pool = hotelIntents().global.find((i) => i.name === 'pool')!;
    assert.ok(scoreIntent('what time does the bar open', pool) < 0.5);
    assert.ok(scoreIntent('what time does the pool open', pool) > 0.9);
  });
});

describe('matchIntent on the hotel flow', () => {
  it('books a room despite "look" for "book" and "tree" for "three"', () => {
    assert.equal(best("i'd like to look a room for tree nights"), 'book');
  });

  it('answers pool, breakfast (also as "break fast") and check-in questions', () => {
    assert.equal(best('what time does the pool open'), 'pool');
    assert.equal(best('when is break fast'), 'breakfast');
    assert.equal(best('what time is breakfast'), 'breakfast');
    assert.equal(best('what time is check in'), 'check_in');
  });

  it('routes requests for a person to the operator', () => {
    for (const u of ['can i speak to a person', 'put me through to reception', 'i want to talk to a human', 'get me the manager', 'operator']) {
      assert.equal(best(u), 'operator', u);
    }
  });

  it('recognises goodbyes', () => {
    for (const u of ['bye', 'goodbye', "that's all", 'thank you goodbye', 'no thanks', 'good bye']) assert.equal(best(u), 'goodbye', u);
  });

  it('matches nothing for unrelated speech', () => {
    assert.equal(best('the weather is nice'), undefined);
    assert.equal(best('is there a gym'), undefined);
    assert.equal(best(''), undefined);
  });

  it('prefers a state intent over a global one at equal score', () => {
    const local = { name: 'local', keywords: ['help'] };
    const global = { name: 'global', keywords: ['help'] };
    const m = matchIntent('help', [local], [global], 0.5);
    assert.equal(m?.intent.name, 'local');
    assert.equal(m?.scope, 'state');
    assert.equal(matchIntent('help', [], [global], 0.5)?.scope, 'global');
  });

  it('honours a stricter threshold', () => {
    const intent = { name: 'pool', keywords: ['pool'] };
    assert.ok(matchIntent('is the pull open', [intent], [], 0.5));
    assert.equal(matchIntent('is the pull open', [intent], [], 0.9), undefined);
  });
});
