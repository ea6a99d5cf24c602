import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { createLogger } from '../observability/logger.js';
import { openStore, type Store } from '../store/store.js';
import { llmAgentTools, runControlTools, runDataTools, TRANSFER_FAILED_REPLY, type ToolHost, TransferPolicy } from './agent-tools.js';
import { CallRecorder } from './call-recorder.js';

async function host(transfer: (to: string, o?: { mode?: 'cold' | 'warm'; briefing?: string }) => Promise<void>): Promise<{ host: ToolHost; actions: string[]; store: Store; callId: string }> {
  const store = await openStore({ dataDir: await mkdtemp(join(tmpdir(), 'parley-tools-')) });
  const call = await store.calls.create({ tenantId: 't', direction: 'inbound', fromNumber: '+1', toNumber: '+2', startedAtMs: Date.now() });
  const actions: string[] = [];
  const recorder = new CallRecorder(store, call.id, createLogger({ level: 'silent' }));
  return {
    store,
    callId: call.id,
    actions,
    host: {
      recorder,
      callControl: { transfer },
      transfers: new TransferPolicy({ desk: { to: '+15550100001', mode: 'cold' }, manager: { to: '+15550100002', mode: 'warm' } }, ['+15550100009']),
      log: createLogger({ level: 'silent' }),
      hangup: (reason) => actions.push(`hangup:${reason}`),
      say: (text) => actions.push(`say:${text}`),
      briefing: () => 'The caller said: my room is cold',
    },
  };
}

test('end_call hangs up and stops the remaining tools', async () => {
  const h = await host(async () => {});
  await runControlTools(
    [
      { id: '1', name: 'end_call', arguments: { reason: 'caller_goodbye' } },
      { id: '2', name: 'transfer_call', arguments: { to: '+15550100001' } },
    ],
    h.host,
  );
  assert.deepEqual(h.actions, ['hangup:agent_hangup']);
  await h.host.recorder.flush();
  const events = (await h.store.calls.get(h.callId))?.events.map((e) => e.type);
  assert.deepEqual(events, ['tool.called']);
  await h.store.close();
});

test('a transfer that fails is recorded and the caller is told, and the call goes on', async () => {
  const h = await host(async () => {
    throw new Error('Twilio call update failed: HTTP 500');
  });
  await runControlTools([{ id: '1', name: 'transfer_call', arguments: { to: '+15550100001' } }], h.host);
  assert.deepEqual(h.actions, [`say:${TRANSFER_FAILED_REPLY}`]);
  await h.host.recorder.flush();
  const failed = (await h.store.calls.get(h.callId))?.events.find((e) => e.type === 'transfer.failed');
  assert.deepEqual(failed?.data, { to: '+15550100001', message: 'Twilio call update failed: HTTP 500' });
  await h.store.close();
});

test('a transfer goes only to a configured target (by name or number) or a destination the flow names', async () => {
  const dialled: string[] = [];
  const h = await host(async (to) => {
    dialled.push(to);
  });
  await runControlTools([{ id: '1', name: 'transfer_call', arguments: { to: 'desk' } }], h.host);
  await runControlTools([{ id: '2', name: 'transfer_call', arguments: { to: '+15550100009' } }], h.host);
  await runControlTools([{ id: '3', name: 'transfer_call', arguments: { to: '+19005550123' } }], h.host);
  assert.deepEqual(dialled, ['+15550100001', '+15550100009']);
  assert.deepEqual(h.actions, ['hangup:transfer', 'hangup:transfer', `say:${TRANSFER_FAILED_REPLY}`]);
  await h.host.recorder.flush();
  const refused = (await h.store.calls.get(h.callId))?.events.find((e) => e.type === 'transfer.refused');
  assert.equal(refused?.data.to, '+19005550123');
  await h.store.close();
});

test('LLM agents are offered transfer_call only with named targets', () => {
  assert.deepEqual(
    llmAgentTools().map((t) => t.name),
    ['end_call'],
  );
  const tools = llmAgentTools({ desk: { to: '+15550100001', mode: 'cold' }, sales: { to: '+15550100002', mode: 'cold' } });
  assert.deepEqual(
    tools.map((t) => t.name),
    ['end_call', 'transfer_call'],
  );
  assert.deepEqual((tools[1]?.parameters as { properties: { to: { enum: string[] } } }).properties.to.enum, ['desk', 'sales']);
});

test('a warm transfer carries the model\'s briefing, or one made from the transcript', async () => {
  const seen: unknown[] = [];
  const h = await host(async (to, o) => {
    seen.push({ to, ...o });
  });
  await runControlTools([{ id: '1', name: 'transfer_call', arguments: { to: 'manager', summary: 'Guest in 12 wants a refund.' } }], h.host);
  await runControlTools([{ id: '2', name: 'transfer_call', arguments: { to: 'manager' } }], h.host);
  await runControlTools([{ id: '3', name: 'transfer_call', arguments: { to: 'desk', summary: 'ignored for cold' } }], h.host);
  assert.deepEqual(seen, [
    { to: '+15550100002', mode: 'warm', briefing: 'Guest in 12 wants a refund.' },
    { to: '+15550100002', mode: 'warm', briefing: 'The caller said: my room is cold' },
    { to: '+15550100001', mode: 'cold' },
  ]);
  await h.store.close();
});

test('data tools answer the model with their results; unknown and failing tools answer an error', async () => {
  const h = await host(async () => {});
  const called: string[] = [];
  const echo = { spec: { name: 'echo', description: 'd', parameters: {} }, run: async (a: Record<string, unknown>) => ({ ok: true as const, data: a }) };
  const boom = { spec: { name: 'boom', description: 'd', parameters: {} }, run: async (): Promise<never> => { throw new Error('kaput'); } };
  const tools = new Map([['echo', echo], ['boom', boom]]);
  const messages = await runDataTools(
    [
      { id: 'a', name: 'echo', arguments: { x: 1 } },
      { id: 'b', name: 'boom', arguments: {} },
      { id: 'c', name: 'nope', arguments: {} },
    ],
    tools,
    {} as never,
    { recorder: h.host.recorder, toolCalled: (e) => called.push(`${e.name}:${e.result.ok}`) },
    (tool, args, ctx) => tool.run(args, ctx),
  );
  assert.deepEqual(messages, [
    { role: 'tool', toolCallId: 'a', content: '{"x":1}' },
    { role: 'tool', toolCallId: 'b', content: '{"error":"kaput"}' },
    { role: 'tool', toolCallId: 'c', content: '{"error":"unknown tool nope"}' },
  ]);
  assert.deepEqual(called, ['echo:true', 'boom:false', 'nope:false']);
  await h.store.close();
});
