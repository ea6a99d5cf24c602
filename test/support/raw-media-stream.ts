/** A media stream opened by hand, the way Twilio opens one, for tests that send their own messages. */
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { parseStreamTwiml, randomSid } from '../../src/cli/simulated-caller.js';
import type { ParleyServer } from '../../src/server/server.js';
import { HOTEL_NUMBER } from './server.js';

export interface Opened {
  ws: WebSocket;
  token: string;
  callSid: string;
  streamSid: string;
  closed: Promise<{ code: number; reason: string }>;
}

/** Does what Twilio does up to the open socket: webhook, then WebSocket to the TwiML's stream. */
export async function openStream(server: ParleyServer): Promise<Opened> {
  const callSid = randomSid('CA');
  const res = await fetch(`${server.url}/twilio/voice`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ CallSid: callSid, From: '+15555550100', To: HOTEL_NUMBER }).toString(),
  });
  const stream = parseStreamTwiml(await res.text());
  assert.ok(stream);
  const ws = new WebSocket(`${server.url.replace('http', 'ws')}${new URL(stream.url).pathname}`);
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  ws.on('error', () => {});
  await new Promise((r) => ws.once('open', r));
  return { ws, token: stream.parameters.parleyToken ?? '', callSid, streamSid: randomSid('MZ'), closed };
}

/** `token: null` sends a start without the stream token. */
export function startMessage(o: Opened, token: string | null = o.token): string {
  return JSON.stringify({
    event: 'start',
    sequenceNumber: '1',
    streamSid: o.streamSid,
    start: {
      accountSid: randomSid('AC'),
      streamSid: o.streamSid,
      callSid: o.callSid,
      tracks: ['inbound'],
      mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
      customParameters: token === null ? {} : { parleyToken: token },
    },
  });
}

export const connected = JSON.stringify({ event: 'connected', protocol: 'Call', version: '1.0.0' });
export const media = (streamSid: string, payload: string): string =>
  JSON.stringify({ event: 'media', sequenceNumber: '2', streamSid, media: { track: 'inbound', chunk: '1', timestamp: '0', payload } });
export const SILENCE = Buffer.alloc(160, 0xff).toString('base64');
