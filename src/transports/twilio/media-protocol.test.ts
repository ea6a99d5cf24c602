import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { encodeClear, encodeMark, encodeMedia, MediaProtocolError, parseTwilioMessage } from './media-protocol.js';
import { sharedDataPath } from '../../../test/support/shared-data.js';

const example = (name: string): string => readFileSync(sharedDataPath('telephony', 'twilio', 'media-streams', name), 'utf8');

test("parses every documented message from Twilio's examples", () => {
  assert.equal(parseTwilioMessage(example('from_twilio.connected.json')).event, 'connected');
  const start = parseTwilioMessage(example('from_twilio.start.json'));
  assert.equal(start.event, 'start');
  if (start.event === 'start') {
    assert.equal(start.start.callSid, 'CAXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX');
    assert.deepEqual(start.start.customParameters, { FirstName: 'Jane', LastName: 'Doe', RemoteParty: 'Bob' });
    assert.equal(start.start.mediaFormat.sampleRate, 8000);
  }
  const mark = parseTwilioMessage(example('from_twilio.mark.json'));
  assert.ok(mark.event === 'mark' && mark.mark.name === 'my label');
  const dtmf = parseTwilioMessage(example('from_twilio.dtmf.json'));
  assert.ok(dtmf.event === 'dtmf' && dtmf.dtmf.digit === '1' && dtmf.dtmf.track === 'inbound_track');
  const stop = parseTwilioMessage(example('from_twilio.stop.json'));
  assert.ok(stop.event === 'stop' && stop.stop.callSid.startsWith('CA'));
});

test('rejects the docs media examples, whose payloads are abbreviated and not base64', () => {
  assert.throws(() => parseTwilioMessage(example('from_twilio.media_inbound.json')), (e: unknown) => e instanceof MediaProtocolError && e.code === 'invalid_payload');
});

test('accepts a media message with a real base64 payload', () => {
  const msg = JSON.parse(example('from_twilio.media_inbound.json'));
  msg.media.payload = Buffer.alloc(160, 0xff).toString('base64');
  const parsed = parseTwilioMessage(JSON.stringify(msg));
  assert.ok(parsed.event === 'media' && Buffer.from(parsed.media.payload, 'base64').length === 160);
});

test('bad input is a MediaProtocolError with a stable code', () => {
  const code = (raw: string): string => {
    try {
      parseTwilioMessage(raw);
      return 'none';
    } catch (e) {
      return e instanceof MediaProtocolError ? e.code : 'other';
    }
  };
  assert.equal(code('{not json'), 'malformed_json');
  assert.equal(code('[1,2]'), 'invalid_message');
  assert.equal(code('{"no":"event"}'), 'invalid_message');
  assert.equal(code('{"event":"start","streamSid":"MZ1"}'), 'invalid_message');
  assert.equal(code('{"event":"dtmf","sequenceNumber":"3","streamSid":"MZ1","dtmf":{"track":"inbound_track","digit":"x"}}'), 'invalid_message');
  assert.equal(code('{"event":"someFutureEvent"}'), 'none');
});

test('encodes outbound messages exactly in the documented shape', () => {
  for (const [name, encoded] of [
    ['to_twilio.media.json', encodeMedia('MZXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX', 'a3242sa...')],
    ['to_twilio.mark.json', encodeMark('MZXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX', 'my label')],
    ['to_twilio.clear.json', encodeClear('MZXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX')],
  ] as const) {
    assert.deepEqual(JSON.parse(encoded), JSON.parse(example(name)), name);
  }
});
