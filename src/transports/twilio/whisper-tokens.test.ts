import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WHISPER_MAX_CHARS, WhisperTokens } from './whisper-tokens.js';

const SECRET = 'whisper-secret-0123456789';

test('a token resolves to its tenant and text, more than once, and fits a 200-character path parameter', () => {
  const tokens = new WhisperTokens(SECRET);
  const token = tokens.issue({ tenantId: 'a'.repeat(63), text: 'Guest in room 12 wants a late checkout.' });
  assert.ok(token.length < 100, token);
  assert.match(token, /^[\w.-]+$/, 'URL-safe');
  for (let i = 0; i < 2; i++) assert.deepEqual(tokens.resolve(token), { ok: true, tenantId: 'a'.repeat(63), text: 'Guest in room 12 wants a late checkout.' });
});

test('a tampered, foreign or malformed token is refused', () => {
  const tokens = new WhisperTokens(SECRET);
  const token = tokens.issue({ tenantId: 't', text: 'x' });
  const [id, exp, sig] = token.split('.') as [string, string, string];
  assert.equal(tokens.resolve(`${id}.${(Number.parseInt(exp, 36) + 1).toString(36)}.${sig}`).ok, false, 'longer expiry');
  assert.equal(new WhisperTokens('another-secret-0123456789').resolve(token).ok, false);
  assert.equal(tokens.resolve('nonsense').ok, false);
});

test('a token expires after its TTL', () => {
  let now = 1_000_000;
  const tokens = new WhisperTokens(SECRET, () => now, 60_000);
  const token = tokens.issue({ tenantId: 't', text: 'x' });
  now += 60_001;
  assert.deepEqual(tokens.resolve(token), { ok: false, reason: 'whisper token expired' });
});

test('a token from another process (same secret) is valid but has no text here', () => {
  const token = new WhisperTokens(SECRET).issue({ tenantId: 't', text: 'x' });
  assert.equal(new WhisperTokens(SECRET).resolve(token).ok, false);
});

test('long briefings are cut to what <Say> should carry', () => {
  const tokens = new WhisperTokens(SECRET);
  const r = tokens.resolve(tokens.issue({ tenantId: 't', text: 'a'.repeat(WHISPER_MAX_CHARS + 500) }));
  assert.ok(r.ok);
  assert.equal(r.text.length, WHISPER_MAX_CHARS);
});
