import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { WebSocketServer } from 'ws';
import { mulawDecode, mulawEncode } from '../audio/mulaw.js';
import { rmsDbfs } from '../audio/pcm16.js';
import { placeSimulatedCall, stepAudio } from './simulated-caller.js';

const FRAME_MS = 20;
const ECHO_DELAY_MS = 40;

/** 100 ms of a loud 1 kHz tone at 8 kHz. */
function tone(): Int16Array {
  const out = new Int16Array(800);
  for (let i = 0; i < out.length; i++) out[i] = Math.round(10_000 * Math.sin((2 * Math.PI * 1000 * i) / 8000));
  return out;
}

/** Blocks this process (caller and server alike) for `ms`, as a loaded event loop does. */
function stall(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {}
}

test('after its process stalls, the simulated handset plays agent audio no earlier than it arrived, so its echo comes back no earlier either', async () => {
  const http = createServer();
  const wss = new WebSocketServer({ server: http });
  let firstInboundAt: number | undefined;
  let inbound = 0;
  let toneSentAtMediaMs: number | undefined;
  let echoAtMediaMs: number | undefined;
  wss.on('connection', (ws) => {
    let streamSid = '';
    ws.on('message', (data) => {
      const msg = JSON.parse(data.toString()) as { event: string; streamSid?: string; media?: { payload: string } };
      if (msg.event === 'start') streamSid = msg.streamSid ?? '';
      if (msg.event !== 'media' || !msg.media) return;
      firstInboundAt ??= performance.now();
      const index = inbound++;
      if (index === 25) {
        // The whole process stalls; the agent audio is sent when it resumes, and the handset's clock
        // catches up on the frames it owes.
        stall(200);
        toneSentAtMediaMs = performance.now() - firstInboundAt;
        const payload = Buffer.from(mulawEncode(tone())).toString('base64');
        ws.send(JSON.stringify({ event: 'media', streamSid, media: { payload } }));
      }
      if (toneSentAtMediaMs !== undefined && echoAtMediaMs === undefined && rmsDbfs(mulawDecode(Buffer.from(msg.media.payload, 'base64'))) > -30) {
        echoAtMediaMs = index * FRAME_MS;
      }
    });
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const { port } = http.address() as AddressInfo;
  try {
    const result = await placeSimulatedCall({
      baseUrl: `http://127.0.0.1:${port}`,
      to: '+15550100000',
      steps: [],
      answered: { callSid: 'CAtest', twiml: `<Response><Connect><Stream url="ws://127.0.0.1:${port}/stream"/></Connect></Response>` },
      echo: { delayMs: ECHO_DELAY_MS, attenuationDb: 0 },
      quietMs: 300,
      maxCallMs: 4_000,
    });
    assert.ok(toneSentAtMediaMs !== undefined, 'the server sent its audio');
    assert.ok(echoAtMediaMs !== undefined, `the tone came back as echo (${inbound} frames, ${result.clearsReceived} clears)`);
    // Media time of an inbound frame is its index × 20 ms. A phone plays audio at the earliest when it
    // arrives (here: within half a frame of when it was sent), so its echo is at least the echo delay later.
    assert.ok(
      echoAtMediaMs >= toneSentAtMediaMs + ECHO_DELAY_MS - FRAME_MS,
      `echo at ${echoAtMediaMs} ms of media time; the tone was sent at ${Math.round(toneSentAtMediaMs)} ms`,
    );
  } finally {
    wss.close();
    http.close();
  }
});

/** The longest run of 5 ms blocks (8 kHz) with no sample above `peak`, in ms. */
function longestQuietMs(samples: Int16Array, peak: number): number {
  let longest = 0;
  let run = 0;
  for (let i = 0; i < samples.length; i += 40) {
    let loud = false;
    for (let j = i; j < Math.min(i + 40, samples.length); j++) if (Math.abs(samples[j]!) > peak) loud = true;
    run = loud ? 0 : run + 5;
    if (run > longest) longest = run;
  }
  return longest;
}

test('a pause written between the words of a line is the silence the caller leaves, not that plus the synthesiser\'s own', async () => {
  const line = await stepAudio({ say: ['do you have parking', { pauseMs: 300 }, 'for a large van'] });
  const quietMs = longestQuietMs(line, 96);
  // flite's own silence at the ends of each part (~150 ms) would make this ~530 ms.
  assert.ok(quietMs >= 290 && quietMs <= 340, `longest silence ${quietMs} ms`);
});
