import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, test } from 'node:test';
import { signWebhookPayload, verifyWebhookSignature } from './signature.js';

const SECRET = 'whsec-test-0123456789abcdef';
const BODY = '{"id":"evt_1","type":"call.ended"}';
const T = 1_750_000_000;

describe('webhook signature', () => {
  test('is t=<seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">', () => {
    const expected = createHmac('sha256', SECRET).update(`${T}.${BODY}`).digest('hex');
    assert.equal(signWebhookPayload(SECRET, BODY, T + 0.9), `t=${T},v1=${expected}`);
  });

  test('verifies its own signature within the tolerance, on either side of the clock', () => {
    const header = signWebhookPayload(SECRET, BODY, T);
    assert.equal(verifyWebhookSignature(SECRET, header, BODY, T), true);
    assert.equal(verifyWebhookSignature(SECRET, header, BODY, T + 300), true);
    assert.equal(verifyWebhookSignature(SECRET, header, BODY, T - 300), true);
  });

  test('rejects a stale or future timestamp beyond the tolerance (replay)', () => {
    const header = signWebhookPayload(SECRET, BODY, T);
    assert.equal(verifyWebhookSignature(SECRET, header, BODY, T + 301), false);
    assert.equal(verifyWebhookSignature(SECRET, header, BODY, T - 301), false);
    assert.equal(verifyWebhookSignature(SECRET, header, BODY, T + 3600, 7200), true);
  });

  test('rejects another secret, a changed body and a changed timestamp', () => {
    const header = signWebhookPayload(SECRET, BODY, T);
    assert.equal(verifyWebhookSignature('another-secret-0123456789', header, BODY, T), false);
    assert.equal(verifyWebhookSignature(SECRET, header, `${BODY} `, T), false);
    assert.equal(verifyWebhookSignature(SECRET, header.replace(`t=${T}`, `t=${T + 1}`), BODY, T), false);
  });

  test('accepts a header with several v1 values when one matches (secret rotation)', () => {
    const good = signWebhookPayload(SECRET, BODY, T);
    const old = signWebhookPayload('old-secret-0123456789abc', BODY, T).split(',')[1];
    assert.equal(verifyWebhookSignature(SECRET, `${good},${old}`, BODY, T), true);
    assert.equal(verifyWebhookSignature(SECRET, `t=${T},${old}`, BODY, T), false);
  });

  test('rejects missing and malformed headers', () => {
    for (const h of [undefined, '', 't=abc,v1=00', `v1=${'0'.repeat(64)}`, `t=${T}`, `t=${T},v1=xyz`, `t=${T},v0=${'0'.repeat(64)}`]) {
      assert.equal(verifyWebhookSignature(SECRET, h, BODY, T), false, String(h));
    }
  });
});
