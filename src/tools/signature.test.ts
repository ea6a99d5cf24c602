import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, it } from 'node:test';
import { signBody, verifySignature } from './signature.js';

const secret = 'whsec_0123456789abcdef';
const body = '{"tool":"lookup_order","arguments":{"order":"A-17"}}';
const t = 1_773_144_000;

describe('X-Parley-Signature', () => {
  it('is t=<seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">', () => {
    const expected = createHmac('sha256', secret).update(`${t}.${body}`).digest('hex');
    assert.equal(signBody(secret, body, t + 0.9), `t=${t},v1=${expected}`);
  });

  it('verifies a fresh signature of the exact body', () => {
    assert.equal(verifySignature(secret, signBody(secret, body, t), body, { nowSeconds: t + 10 }), true);
  });

  it('rejects a changed body, another secret, a stale or future timestamp and junk headers', () => {
    const header = signBody(secret, body, t);
    assert.equal(verifySignature(secret, header, body.replace('A-17', 'A-18'), { nowSeconds: t }), false);
    assert.equal(verifySignature('another-secret-0123', header, body, { nowSeconds: t }), false);
    assert.equal(verifySignature(secret, header, body, { nowSeconds: t + 301 }), false);
    assert.equal(verifySignature(secret, header, body, { nowSeconds: t - 301 }), false);
    assert.equal(verifySignature(secret, header.replace(/t=\d+/, `t=${t + 1}`), body, { nowSeconds: t }), false);
    for (const junk of [undefined, '', 'v1=abc', `t=${t}`, `t=${t},v1=zz`, 'garbage']) {
      assert.equal(verifySignature(secret, junk, body, { nowSeconds: t }), false, String(junk));
    }
  });

  it('accepts any of several v1 values (secret rotation)', () => {
    const oldV1 = signBody('old-secret-0123456789', body, t).split('v1=')[1];
    const header = `t=${t},v1=${oldV1},${signBody(secret, body, t).split(',')[1]}`;
    assert.equal(verifySignature(secret, header, body, { nowSeconds: t }), true);
    assert.equal(verifySignature('old-secret-0123456789', header, body, { nowSeconds: t }), true);
  });
});
