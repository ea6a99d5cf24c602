import assert from 'node:assert/strict';
import { test } from 'node:test';
import { STREAM_TOKEN_TTL_MS, StreamTokens } from './stream-token.js';

const claims = { callSid: 'CA1', tenantId: 't1', agentId: 'default', from: '+1555', to: '+1666' };

test('a token opens the stream of its own call exactly once', () => {
  const tokens = new StreamTokens('secret');
  const tok = tokens.issue(claims);
  const first = tokens.consume(tok, 'CA1');
  assert.ok(first.ok && first.claims.tenantId === 't1');
  assert.deepEqual(tokens.consume(tok, 'CA1'), { ok: false, reason: 'stream token already used' });
});

test('a token is refused for another call, after expiry, when tampered or signed elsewhere', () => {
  let now = 1_000;
  const tokens = new StreamTokens('secret', () => now);
  assert.equal(tokens.consume(tokens.issue(claims), 'CA2').ok, false);
  const tok = tokens.issue(claims);
  const [body, sig] = tok.split('.') as [string, string];
  const forged = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(body, 'base64url').toString()), tenantId: 'evil' })).toString('base64url');
  assert.equal(tokens.consume(`${forged}.${sig}`, 'CA1').ok, false);
  assert.equal(new StreamTokens('other').consume(tok, 'CA1').ok, false);
  assert.equal(tokens.consume(undefined, 'CA1').ok, false);
  now += STREAM_TOKEN_TTL_MS + 1;
  assert.deepEqual(tokens.consume(tok, 'CA1'), { ok: false, reason: 'stream token expired' });
});
