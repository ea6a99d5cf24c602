import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Store } from '../store/store.js';
import { createSearchKnowledgeTool } from './search-knowledge.js';
import { contextFor, tempStore, tenantWith } from './test-support.js';

let store: Store;
let close: () => Promise<void>;
before(async () => {
  ({ store, close } = await tempStore());
  const docs = [
    ['Parking', 'Guests park free in the underground garage. Street parking is metered until 6 pm.'],
    ['Pets', 'Dogs and cats under 20 kg are welcome for a fee of 25 dollars per night.'],
    ['Checkout', 'Checkout is at 11 am. Late checkout until 2 pm costs 30 dollars, subject to availability.'],
    ['Breakfast', 'Breakfast is served from 6:30 to 10:30 in the lobby restaurant.'],
  ];
  for (const [title, content] of docs) await store.documents.create({ tenantId: 'acme', title: title!, content: content!, nowMs: 1 });
  await store.documents.create({ tenantId: 'rival', title: 'Late checkout', content: 'Late checkout is free at the rival hotel.', nowMs: 1 });
});
after(() => close());

const tenant = tenantWith([{ type: 'search_knowledge' }]);

describe('search_knowledge', () => {
  it("ranks the document answering the question first, from this tenant's documents only", async () => {
    const r = await createSearchKnowledgeTool({ store }).run({ query: 'how much is a late checkout' }, contextFor(tenant));
    assert.ok(r.ok);
    const results = (r.data as { results: { title: string; snippet: string }[] }).results;
    assert.equal(results[0]?.title, 'Checkout');
    assert.match(results[0]?.snippet ?? '', /\[late\] \[checkout\]/i);
    assert.ok(results.length <= 3);
    assert.ok(results.every((x) => Object.keys(x).sort().join() === 'snippet,title'));
    assert.ok(!results.some((x) => x.title === 'Late checkout'), 'another tenant’s document');
  });

  it('says when nothing matches', async () => {
    const r = await createSearchKnowledgeTool({ store }).run({ query: 'helicopter landing' }, contextFor(tenant));
    assert.deepEqual(r, { ok: true, data: { results: [], message: 'Nothing in the knowledge base matches "helicopter landing".' } });
  });
});
