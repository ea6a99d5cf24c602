import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { placeSimulatedCall } from '../../src/cli/simulated-caller.js';
import { E2E_TIMEOUT_MS, HOTEL_NUMBER } from '../support/server.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const KEY = 'crash-test-key';

/** Runs `parley serve` (the compiled CLI, as a user would) and resolves once it listens. */
async function serve(dataDir: string, port: number): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['bin/parley.js', 'serve', '--port', String(port), '--tenants', 'tenants', '--data', dataDir], {
    cwd: ROOT,
    env: { ...process.env, PARLEY_ADMIN_KEY: KEY, PARLEY_LOG_LEVEL: 'info', PARLEY_HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('parley listening')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`parley serve exited ${code}: ${out}`)));
  });
  return child;
}

async function api(port: number, path: string): Promise<any> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { headers: { authorization: `Bearer ${KEY}` } });
  return res.json();
}

test('a server killed mid-call loses nothing already said, and the restart closes the call as ended abnormally', { timeout: E2E_TIMEOUT_MS }, async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'parley-crash-'));
  const port = 20000 + Math.floor(Math.random() * 20000);
  const first = await serve(dataDir, port);
  const call = placeSimulatedCall({
    baseUrl: `http://127.0.0.1:${port}`,
    to: HOTEL_NUMBER,
    steps: [{ say: 'what time is breakfast' }, { say: 'when does the pool open' }],
  }).catch((err: unknown) => err);
  // Wait until the first answer has been stored, then kill the server without warning.
  let callId: string | undefined;
  for (let i = 0; i < 300 && !callId; i++) {
    await new Promise((r) => setTimeout(r, 100));
    const list = await api(port, '/v1/calls').catch(() => undefined);
    const c = list?.data?.[0];
    if (c) {
      const detail = await api(port, `/v1/calls/${c.id}`);
      if (detail.turns.some((t: { text: string }) => /Breakfast/.test(t.text))) callId = c.id;
    }
  }
  assert.ok(callId, 'the first answer was stored while the call was live');
  first.kill('SIGKILL');
  await call;

  const second = await serve(dataDir, port);
  try {
    const detail = await api(port, `/v1/calls/${callId}`);
    assert.equal(detail.status, 'ended_abnormally');
    assert.equal(detail.endReason, 'server_restart');
    const texts = detail.turns.map((t: { role: string; text: string }) => `${t.role}: ${t.text}`);
    assert.ok(texts.some((t: string) => t.startsWith('user:') && /breakfast/.test(t)), texts.join('\n'));
    assert.ok(texts.some((t: string) => /Breakfast is served/.test(t)), texts.join('\n'));
  } finally {
    second.kill('SIGTERM');
  }
});
