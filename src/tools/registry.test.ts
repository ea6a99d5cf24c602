import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Store } from '../store/store.js';
import { buildAgentTools, runTool } from './registry.js';
import { contextFor, tempStore, tenantWith } from './test-support.js';
import type { AgentTool } from './types.js';

let store: Store;
let close: () => Promise<void>;
before(async () => ({ store, close } = await tempStore()));
after(() => close());

const services = () => ({ store, twilioApiBaseUrl: 'http://127.0.0.1:9' });

function fakeTool(run: AgentTool['run'], timeoutMs?: number): AgentTool {
  return {
    spec: { name: 'fake', description: 'test', parameters: { type: 'object', properties: { n: { type: 'integer' } }, additionalProperties: false } },
    ...(timeoutMs !== undefined ? { timeoutMs } : {}),
    run,
  };
}

describe('buildAgentTools', () => {
  it('builds exactly the tools the agent enables, keyed by name, with closed schemas', () => {
    const tenant = tenantWith([
      { type: 'send_dtmf' },
      { type: 'search_knowledge' },
      { type: 'http', name: 'book_table', description: 'Book a table.', url: 'https://api.example.com/book' },
    ]);
    const tools = buildAgentTools(services(), tenant, 'default');
    assert.deepEqual([...tools.keys()], ['send_dtmf', 'search_knowledge', 'book_table']);
    for (const t of tools.values()) {
      assert.equal(t.spec.parameters['type'], 'object');
      assert.equal(t.spec.parameters['additionalProperties'], false, t.spec.name);
      assert.ok(t.spec.description.length >= 10);
    }
  });

  it('builds every built-in, and nothing for an agent without tools', () => {
    const all = tenantWith([{ type: 'send_sms' }, { type: 'schedule_callback' }, { type: 'caller_history' }, { type: 'search_knowledge' }, { type: 'send_dtmf' }]);
    assert.deepEqual([...buildAgentTools(services(), all, 'default').keys()], ['send_sms', 'schedule_callback', 'caller_history', 'search_knowledge', 'send_dtmf']);
    assert.equal(buildAgentTools(services(), tenantWith([]), 'default').size, 0);
  });

  it('names the missing agent', () => {
    assert.throws(() => buildAgentTools(services(), tenantWith([]), 'sales'), /tenant acme has no agent "sales"/);
  });
});

describe('runTool', () => {
  const ctx = contextFor(tenantWith([]));

  it('checks arguments before running the tool', async () => {
    let ran = false;
    const tool = fakeTool(async () => ((ran = true), { ok: true, data: 1 }));
    assert.deepEqual(await runTool(tool, { n: 'five' }, ctx), { ok: false, error: 'invalid arguments: arguments.n must be integer, not string' });
    assert.deepEqual(await runTool(tool, 'not an object', ctx), { ok: false, error: 'invalid arguments: arguments must be object, not string' });
    assert.equal(ran, false);
    assert.deepEqual(await runTool(tool, { n: 5 }, ctx), { ok: true, data: 1 });
  });

  it('turns a throw or a malformed result into an error result', async () => {
    assert.deepEqual(await runTool(fakeTool(async () => { throw new Error('database is locked'); }), {}, ctx), { ok: false, error: 'database is locked' });
    assert.deepEqual(await runTool(fakeTool(async () => undefined as never), {}, ctx), { ok: false, error: 'fake gave no result' });
  });

  it('stops waiting at the timeout and aborts the tool', async () => {
    let aborted = false;
    const hanging = fakeTool((_a, c) => new Promise(() => c.signal.addEventListener('abort', () => (aborted = true))));
    assert.deepEqual(await runTool(hanging, {}, ctx, 50), { ok: false, error: 'fake did not finish within 50 ms' });
    assert.equal(aborted, true);
    assert.deepEqual(await runTool(fakeTool(() => new Promise(() => {}), 40), {}, ctx), { ok: false, error: 'fake did not finish within 40 ms' });
  });

  it('stops when the call ends', async () => {
    const ac = new AbortController();
    const p = runTool(fakeTool(() => new Promise(() => {})), {}, { ...ctx, signal: ac.signal });
    ac.abort();
    assert.deepEqual(await p, { ok: false, error: 'the call has ended' });
    assert.deepEqual(await runTool(fakeTool(async () => ({ ok: true, data: 1 })), {}, { ...ctx, signal: ac.signal }), { ok: false, error: 'the call has ended' });
  });
});

describe('send_dtmf', () => {
  const tenant = tenantWith([{ type: 'send_dtmf' }]);

  it('presses valid keys on the call and refuses anything else', async () => {
    const tool = buildAgentTools(services(), tenant, 'default').get('send_dtmf')!;
    const ctx = contextFor(tenant);
    assert.deepEqual(await runTool(tool, { digits: '1w23#' }, ctx), { ok: true, data: { pressed: '1w23#' } });
    for (const digits of ['', '12x', '1'.repeat(33), 'ww ']) {
      const r = await runTool(tool, { digits }, ctx);
      assert.equal(r.ok, false, digits);
    }
    assert.deepEqual(ctx.dtmfSent, ['1w23#']);
  });
});
