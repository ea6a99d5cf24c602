import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { emptyMediaFields, encodeClear, encodeMark, encodeMedia, MediaProtocolError, mediaMessageParts, parseTwilioMessage, scanMediaMessage } from './media-protocol.js';
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

// ---------- the media fast path ----------

/**
 * What scanMediaMessage makes of `raw`: undefined when it leaves the message to parseTwilioMessage,
 * else the fields it found (the payload as text; its characters are the decoder's to check).
 */
function scan(raw: string): { streamSid: string; track: string; payload: string } | undefined {
  const bytes = Buffer.from(raw, 'utf8');
  const f = emptyMediaFields();
  if (!scanMediaMessage(bytes, f)) return undefined;
  const text = (a: number, b: number): string => bytes.toString('latin1', a, b);
  return { streamSid: text(f.streamSidStart, f.streamSidEnd), track: f.trackStart < 0 ? 'inbound' : text(f.trackStart, f.trackEnd), payload: text(f.payloadStart, f.payloadEnd) };
}

const PAYLOAD = Buffer.alloc(160, 0x7f).toString('base64');

test('the fast path recognises media messages as Twilio sends them, in any member order', () => {
  const twilio = `{"event":"media","sequenceNumber":"3","media":{"track":"inbound","chunk":"1","timestamp":"5","payload":"${PAYLOAD}"},"streamSid":"MZ18ad3ab5a668481ce02b83e7395059f0"}`;
  assert.deepEqual(scan(twilio), { streamSid: 'MZ18ad3ab5a668481ce02b83e7395059f0', track: 'inbound', payload: PAYLOAD });
  const reordered = JSON.stringify({ streamSid: 'MZ1', media: { payload: PAYLOAD, timestamp: '5', track: 'outbound' }, event: 'media' });
  assert.deepEqual(scan(reordered), { streamSid: 'MZ1', track: 'outbound', payload: PAYLOAD });
  assert.deepEqual(scan(`{"event":"media","streamSid":"MZ1","media":{"payload":""}}`), { streamSid: 'MZ1', track: 'inbound', payload: '' });
});

test('the fast path agrees with parseTwilioMessage on every message it takes, and leaves the rest to it', () => {
  const media = (over: Record<string, unknown> = {}, mediaOver: Record<string, unknown> = {}): Record<string, unknown> => ({
    event: 'media',
    sequenceNumber: '2',
    streamSid: 'MZ1',
    media: { track: 'inbound', chunk: '1', timestamp: '20', payload: PAYLOAD, ...mediaOver },
    ...over,
  });
  const messages = [
    JSON.stringify(media()),
    JSON.stringify(media({}, { track: 'outbound' })),
    JSON.stringify(media({ sequenceNumber: 2 })), // a number: not plain, general parser
    JSON.stringify(media({ extra: 'x' })), // unknown member
    JSON.stringify(media({}, { extra: 'x' })),
    '{"event":"media","streamSid":"MZ\\u00e9","media":{"payload":""}}',
    JSON.stringify(media({ streamSid: 'MZé' })), // non-ASCII
    JSON.stringify(media({ streamSid: 'M"Z' })), // escaped quote
    JSON.stringify(media({ streamSid: 5 })),
    JSON.stringify(media({ event: 'mark' })),
    JSON.stringify(media({ media: null })),
    JSON.stringify(media({ media: [] })),
    JSON.stringify(media({}, { payload: 5 })),
    JSON.stringify(media({}, { payload: 'not base64!' })),
    '{"event":"media","streamSid":"MZ1","media":{"payload":"QQ\\u003d\\u003d"}}', // escaped, yet valid base64 once parsed
    JSON.stringify(media(), null, 1), // whitespace
    `${JSON.stringify(media())} `,
    '{"event":"media","event":"media","streamSid":"MZ1","media":{"payload":""}}', // duplicate member
    '{"event":"media","streamSid":"MZ1","media":{"payload":"","payload":"QQ=="}}',
    '{"event":"media","streamSid":"MZ1"}',
    '{"event":"media","media":{"payload":""}}',
    '{"event":"media","streamSid":"MZ1","media":{"payload":""},}',
    '{"event":"media","streamSid":"MZ1","media":{"payload":"QQ=="}}x',
    '{"event":"media","streamSid":"MZ1","media":{"payload":"QQ=="}',
    '{}',
    '{',
    '',
  ];
  let scanned = 0;
  let taken = 0;
  for (const raw of messages) {
    const fields = scan(raw);
    if (fields === undefined) continue;
    scanned++;
    // A payload the decoder rejects sends the message to the parser (here: 'not base64!', and the escaped one).
    if (!/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(fields.payload)) continue;
    taken++;
    const parsed = parseTwilioMessage(raw);
    assert.ok(parsed.event === 'media', raw);
    assert.deepEqual({ streamSid: parsed.streamSid, track: parsed.media.track, payload: parsed.media.payload }, fields, raw);
  }
  assert.equal(scanned, 4);
  assert.equal(taken, 2);
});

test('outbound media message halves put together are exactly encodeMedia', () => {
  for (const sid of ['MZXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX', 'MZ"odd\\', '']) {
    const { prefix, suffix } = mediaMessageParts(sid);
    assert.equal(Buffer.concat([prefix, Buffer.from('QUFB'), suffix]).toString(), encodeMedia(sid, 'QUFB'));
  }
});
