import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { isValidTwilioSignature, twilioSignature } from './signature.js';
import { sharedDataPath } from '../../../test/support/shared-data.js';

interface Vector {
  test: string;
  function: string;
  authToken: string;
  url: string;
  params: Record<string, string | string[]>;
  signature: string | null;
  expected_valid: boolean;
}

const vectors = JSON.parse(
  readFileSync(sharedDataPath('telephony', 'twilio', 'webhook-signature', 'twilio-node-validation-vectors.json'), 'utf8'),
) as { vectors: Vector[] };

for (const v of vectors.vectors.filter((x) => x.function === 'validateRequest')) {
  test(`twilio-node vector: ${v.test}`, () => {
    assert.equal(isValidTwilioSignature(v.authToken, v.signature ?? undefined, v.url, v.params), v.expected_valid);
  });
}

test('a signature made for one URL does not validate for another path', () => {
  const params = { CallSid: 'CA1', To: '+15550100000' };
  const sig = twilioSignature('tok', 'https://parley.example.com/twilio/voice', params);
  assert.equal(isValidTwilioSignature('tok', sig, 'https://parley.example.com/twilio/voice', params), true);
  assert.equal(isValidTwilioSignature('tok', sig, 'https://parley.example.com/twilio/status', params), false);
  assert.equal(isValidTwilioSignature('tok', sig, 'https://parley.example.com/twilio/voice', { ...params, To: '+1' }), false);
});
