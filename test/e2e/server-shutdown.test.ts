import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { openStore } from '../../src/store/store.js';
import { connected, openStream, startMessage } from '../support/raw-media-stream.js';
import { E2E_TIMEOUT_MS, hotelTenant, testServer } from '../support/server.js';

test('closing the server ends its live calls and commits their records before the database closes', { timeout: E2E_TIMEOUT_MS }, async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'parley-shutdown-'));
  const server = await testServer([await hotelTenant()], { dataDir });
  const calls = await Promise.all(
    [1, 2, 3].map(async () => {
      const o = await openStream(server);
      const greeted = new Promise((resolve) => o.ws.once('message', resolve));
      o.ws.send(connected);
      o.ws.send(startMessage(o));
      await greeted; // the greeting is playing: the call is live
      return o;
    }),
  );
  await server.close();

  const store = await openStore({ dataDir });
  try {
    for (const o of calls) {
      const call = await store.calls.get(o.callSid);
      assert.ok(call, 'the call was recorded');
      assert.notEqual(call.status, 'in_progress', 'the call is closed in its record');
      assert.ok(call.endedAtMs !== null);
      assert.ok(
        call.events.some((e) => e.type === 'call.ended'),
        `call.ended is stored (events: ${call.events.map((e) => e.type).join(', ')})`,
      );
    }
  } finally {
    await store.close();
  }
});
