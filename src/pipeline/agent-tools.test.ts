import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { createLogger } from '../observability/logger.js';
import { openStore, type Store } from '../store/store.js';
import { runAgentTools, TRANSFER_FAILED_REPLY, type ToolHost } from './agent-tools.js';
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
