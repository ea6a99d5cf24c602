import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { createLogger } from '../observability/logger.js';
import { openStore, type Store } from '../store/store.js';
import { llmAgentTools, runAgentTools, TRANSFER_FAILED_REPLY, type ToolHost, TransferPolicy } from './agent-tools.js';
import { CallRecorder } from './call-recorder.js';

async function host(transfer: (to: string) => Promise<void>): Promise<{ host: ToolHost; actions: string[]; store: Store; callId: string }> {
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
      transfers: new TransferPolicy({ desk: '+15550100001' }, ['+15550100009']),
      log: createLogger({ level: 'silent' }),
      hangup: (reason) => actions.push(`hangup:${reason}`),
      say: (text) => actions.push(`say:${text}`),
    },
  };
}

test('end_call hangs up and stops the remaining tools', async () => {
  const h = await host(async () => {});
  await runAgentTools(
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
  await runAgentTools([{ id: '1', name: 'transfer_call', arguments: { to: '+15550100001' } }], h.host);
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
  await runAgentTools([{ id: '1', name: 'transfer_call', arguments: { to: 'desk' } }], h.host);
  await runAgentTools([{ id: '2', name: 'transfer_call', arguments: { to: '+15550100009' } }], h.host);
  await runAgentTools([{ id: '3', name: 'transfer_call', arguments: { to: '+19005550123' } }], h.host);
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
  const tools = llmAgentTools({ desk: '+15550100001', sales: '+15550100002' });
  assert.deepEqual(
    tools.map((t) => t.name),
    ['end_call', 'transfer_call'],
  );
  assert.deepEqual((tools[1]?.parameters as { properties: { to: { enum: string[] } } }).properties.to.enum, ['desk', 'sales']);
});
