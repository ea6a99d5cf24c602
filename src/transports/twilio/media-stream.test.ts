import assert from 'node:assert/strict';
import { test } from 'node:test';
import { audioFrame, type AudioFrame } from '../../audio/frame.js';
import { mulawDecode, mulawEncode } from '../../audio/mulaw.js';
import type { WebSocketHandler } from '../../net/websocket-connection.js';
import { Pacer } from '../../pipeline/pacer.js';
import type { MediaHandler } from '../types.js';
import { encodeMark, encodeMedia } from './media-protocol.js';
import { type MediaSocket, TwilioMediaStream } from './media-stream.js';

/** Just enough of a WebSocket connection: inbound messages are delivered, outbound ones recorded (frames decoded). */
class FakeSocket implements MediaSocket {
  readyState: 1 | 2 | 3 = 1;
  readonly sent: string[] = [];
  closed: { code: number; reason: string } | undefined;
  private handler: WebSocketHandler | undefined;
  start(handler: WebSocketHandler): void {
    this.handler = handler;
  }
  send(data: string | Buffer, binary = false): void {
    assert.equal(binary, false, 'text frames only');
    if (this.readyState === 1) this.sent.push(data.toString());
  }
  sendFrame(frame: Buffer): void {
    assert.equal(frame[0], 0x81, 'a final text frame');
    const len = frame[1]! & 0x7f;
    const start = len === 126 ? 4 : len === 127 ? 10 : 2;
    const length = len === 126 ? frame.readUInt16BE(2) : len === 127 ? frame.readUInt32BE(6) : len;
    assert.equal(frame.length, start + length, 'header length matches the payload');
    if (this.readyState === 1) this.sent.push(frame.toString('utf8', start));
  }
  close(code: number, reason: string): void {
    this.closed ??= { code, reason };
    this.readyState = 3;
  }
  receive(message: string): void {
    this.handler?.message(Buffer.from(message, 'utf8'), false);
  }
}

const SID = 'MZ18ad3ab5a668481ce02b83e7395059f0';
const quiet = { warn() {}, debug() {} };

function setup(o: { now?: () => number } = {}) {
  const ws = new FakeSocket();
  const frames: AudioFrame[] = [];
  const marks: string[] = [];
  const sentMs: number[] = [];
  const handler: MediaHandler = {
    onStart() {},
    onAudio: (f) => frames.push(f),
    onDtmf() {},
    onMark: (name) => marks.push(name),
    onAudioSent: (ms) => sentMs.push(ms),
    onEnd() {},
  };
  const pacer = new Pacer(160, o.now ?? (() => 0));
  const stream = new TwilioMediaStream(ws, pacer, () => handler, quiet);
  return { ws, frames, marks, sentMs, pacer, stream };
}

async function started(o: { now?: () => number } = {}) {
  const s = setup(o);
  s.ws.receive(JSON.stringify({ event: 'connected', protocol: 'Call', version: '1.0.0' }));
  s.ws.receive(
    JSON.stringify({
      event: 'start',
      sequenceNumber: '1',
      streamSid: SID,
      start: { accountSid: 'AC1', streamSid: SID, callSid: 'CA1', tracks: ['inbound'], mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 }, customParameters: {} },
    }),
  );
  await new Promise((r) => setImmediate(r));
  return s;
}

const bytes = Uint8Array.from({ length: 160 }, (_, i) => (i * 37) & 0xff);
const payload = Buffer.from(bytes).toString('base64');
const twilioMedia = (p: string, sid = SID, track = 'inbound'): string =>
  `{"event":"media","sequenceNumber":"3","media":{"track":"${track}","chunk":"1","timestamp":"5","payload":"${p}"},"streamSid":"${sid}"}`;

test('media in Twilio plain form and in any other valid JSON decode to the same frames', async () => {
  const s = await started();
  s.ws.receive(twilioMedia(payload));
  s.ws.receive(JSON.stringify({ streamSid: SID, media: { payload }, event: 'media' }));
  s.ws.receive(JSON.stringify({ event: 'media', streamSid: SID, media: { track: 'inbound', payload } }, null, 2));
  // Escaped characters are valid JSON: the general parser takes the message and it plays.
  s.ws.receive(twilioMedia(payload).replace('"payload":"', '"payload":"\\u0041').replace(`${payload}"`, `${payload.slice(1)}"`));
  s.ws.receive(twilioMedia(payload, SID, 'outbound')); // not the caller's audio
  s.ws.receive(twilioMedia('')); // nothing to play
  assert.equal(s.ws.closed, undefined);
  assert.equal(s.frames.length, 4);
  const expected = Array.from(mulawDecode(bytes));
  assert.deepEqual(Array.from(s.frames[0]!.samples), expected);
  assert.deepEqual(Array.from(s.frames[1]!.samples), expected);
  assert.deepEqual(Array.from(s.frames[2]!.samples), expected);
  assert.deepEqual(Array.from(s.frames[3]!.samples), Array.from(mulawDecode(Buffer.from(`A${payload.slice(1)}`, 'base64'))));
  assert.equal(s.frames[0]!.sampleRateHz, 8000);
  // Frames never share memory.
  s.frames[0]!.samples[0] = 12345;
  assert.notEqual(s.frames[1]!.samples[0], 12345);
});

test('the plain fast path rejects bad media exactly as the general parser does', async () => {
  const cases: [string, string][] = [
    [twilioMedia('not base64!'), 'invalid_payload'],
    [twilioMedia('QQ='), 'invalid_payload'],
    [twilioMedia(payload, 'MZother'), 'unknown_stream'],
  ];
  for (const [message, code] of cases) {
    const s = await started();
    s.ws.receive(message);
    assert.equal(s.ws.closed?.code, 1008, message);
    assert.ok(s.ws.closed?.reason.startsWith(code), `${s.ws.closed?.reason} for ${message.slice(0, 60)}`);
  }
  const early = setup();
  early.ws.receive(JSON.stringify({ event: 'connected', protocol: 'Call', version: '1.0.0' }));
  early.ws.receive(twilioMedia(payload));
  assert.ok(early.ws.closed?.reason.startsWith('out_of_order'));
});

/** The outbound media messages' payloads, decoded, and the 20 ms frames each carried. */
function outbound(sent: readonly string[]): { samples: number[]; framesPerMessage: number[] } {
  const samples: number[] = [];
  const framesPerMessage: number[] = [];
  for (const m of sent) {
    const msg = JSON.parse(m) as { event: string; media?: { payload: string } };
    if (msg.event !== 'media') continue;
    const decoded = mulawDecode(Buffer.from(msg.media!.payload, 'base64'));
    assert.equal(decoded.length % 160, 0, 'whole 20 ms frames');
    framesPerMessage.push(decoded.length / 160);
    samples.push(...decoded);
  }
  return { samples, framesPerMessage };
}

test('outbound audio goes out in the documented media shape, whole frames, marks right after their audio', async () => {
  let now = 0;
  const s = await started({ now: () => now });
  const samples = Int16Array.from({ length: 400 }, (_, i) => Math.round(Math.sin(i / 5) * 9000)); // 50 ms
  s.stream.play(audioFrame(samples, 8000));
  s.stream.mark('r0.0');
  const padded = new Int16Array(480);
  padded.set(samples);
  const first = JSON.parse(s.ws.sent[0]!) as Record<string, unknown>;
  assert.deepEqual(Object.keys(first), ['event', 'streamSid', 'media']);
  assert.equal(s.ws.sent[0], encodeMedia(SID, Buffer.from(mulawEncode(padded.subarray(0, 320))).toString('base64')), 'the two whole frames queued by play()');
  assert.deepEqual(outbound(s.ws.sent).samples, Array.from(mulawDecode(mulawEncode(padded))), 'the partial frame is padded with silence');
  assert.equal(s.ws.sent.at(-1), encodeMark(SID, 'r0.0'));
  assert.deepEqual(s.sentMs, [20, 20, 20], 'each frame reported as sent (echo reference, playout)');
});

test('a long reply goes out at real time in messages of up to 80 ms, keeping 160–240 ms ahead', async () => {
  let now = 1000;
  const s = await started({ now: () => now });
  // More than the queue's first capacity; every frame has its own value to check the order.
  const long = Int16Array.from({ length: 160 * 200 }, (_, i) => (Math.floor(i / 160) * 100) % 30000);
  s.stream.play(audioFrame(long, 8000));
  s.stream.mark('r0.1');
  assert.deepEqual(outbound(s.ws.sent).framesPerMessage, [4, 4], 'the lead: 160 ms at once, in two messages');
  let worstAheadMs = Infinity;
  let mostAheadMs = 0;
  for (let t = 1010; t <= 1000 + 200 * 20; t += 10) {
    now = t;
    s.pacer.wake(s.stream);
    const sentMs = s.sentMs.length * 20;
    if (sentMs < 200 * 20) {
      worstAheadMs = Math.min(worstAheadMs, sentMs - (t - 1000));
      mostAheadMs = Math.max(mostAheadMs, sentMs - (t - 1000));
    }
  }
  const { samples, framesPerMessage } = outbound(s.ws.sent);
  assert.equal(samples.length, 160 * 200);
  for (let k = 0; k < 200; k++) assert.equal(samples[k * 160], mulawDecode(mulawEncode(Int16Array.of((k * 100) % 30000)))[0], `frame ${k}`);
  assert.ok(framesPerMessage.every((n) => n <= 4));
  assert.equal(framesPerMessage.length, 50, '200 frames in 80 ms messages');
  assert.ok(worstAheadMs >= 150 && mostAheadMs <= 240, `ahead of playback ${worstAheadMs}–${mostAheadMs} ms`);
  assert.equal(s.ws.sent.at(-1), encodeMark(SID, 'r0.1'));
});

test('a message never carries audio queued after a mark', async () => {
  let now = 0;
  const s = await started({ now: () => now });
  s.stream.play(audioFrame(new Int16Array(160 * 10), 8000));
  s.stream.mark('a');
  s.stream.play(audioFrame(new Int16Array(160 * 10).fill(1000), 8000));
  s.stream.mark('b');
  for (now = 10; now <= 600; now += 10) s.pacer.wake(s.stream);
  const kinds = s.ws.sent.map((m) => {
    const msg = JSON.parse(m) as { event: string; mark?: { name: string }; media?: { payload: string } };
    return msg.event === 'mark' ? `mark ${msg.mark!.name}` : `${Buffer.from(msg.media!.payload, 'base64').length / 160}`;
  });
  // 10 frames, the mark, 10 frames, the mark: the first 160 ms at once, then 80 ms messages, cut at each mark.
  assert.deepEqual(kinds, ['4', '4', '2', 'mark a', '4', '4', '2', 'mark b']);
});

test('clear drops queued audio and marks and tells Twilio to drop its buffer', async () => {
  let now = 0;
  const s = await started({ now: () => now });
  s.stream.play(audioFrame(new Int16Array(160 * 50), 8000));
  s.stream.mark('r0.0');
  assert.equal(s.ws.sent.length, 2, 'the lead, 160 ms in two messages');
  s.stream.clear();
  assert.deepEqual(JSON.parse(s.ws.sent.at(-1)!), { event: 'clear', streamSid: SID });
  assert.equal(s.stream.hasQueued, false);
  now = 500;
  s.pacer.wake(s.stream);
  assert.equal(s.ws.sent.length, 3);
  // The next reply starts a new real-time run: its lead goes out at once.
  s.stream.play(audioFrame(new Int16Array(160 * 20), 8000));
  assert.equal(s.ws.sent.length, 5);
  assert.equal(outbound(s.ws.sent).samples.length, 160 * 16);
});
