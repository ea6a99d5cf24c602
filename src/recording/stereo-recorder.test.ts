import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { audioFrame, type AudioFrame } from '../audio/frame.js';
import { parseWav, parseWavHeader } from '../audio/wav.js';
import { StereoRecorder, recordingFilePath, recordingRelativePath } from './stereo-recorder.js';

const RATE = 8000;
const FRAME = 160; // 20 ms
const FRAME_MS = 20;

let dataDir: string;
before(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'parley-rec-'));
});
after(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

let seq = 0;
/** A recorder on a fake clock the test advances; inbound frames are sent at real pace unless told otherwise. */
function setup(o: { chunkMs?: number; sampleRateHz?: number; tenantId?: string; callId?: string; dir?: string } = {}) {
  let nowMs = 1_000;
  const warnings: string[] = [];
  const callId = o.callId ?? `call_${++seq}`;
  const rec = new StereoRecorder({
    dataDir: o.dir ?? dataDir,
    tenantId: o.tenantId ?? 'acme',
    callId,
    sampleRateHz: o.sampleRateHz ?? RATE,
    now: () => nowMs,
    chunkMs: o.chunkMs,
    log: { warn: (_obj, msg) => warnings.push(msg) },
  });
  return {
    rec,
    callId,
    warnings,
    advance(ms: number) {
      nowMs += ms;
    },
    /** `count` caller frames at real pace (the clock advances one frame before each). */
    caller(count: number, make: (i: number) => Int16Array = () => new Int16Array(FRAME)) {
      for (let i = 0; i < count; i++) {
        nowMs += FRAME_MS;
        rec.inbound(audioFrame(make(i), RATE));
      }
    },
  };
}

/** A sine tone of `n` samples. */
function tone(n: number, hz: number, amplitude = 8000, rate = RATE): Int16Array {
  const out = new Int16Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.round(amplitude * Math.sin((2 * Math.PI * hz * i) / rate));
  return out;
}

/** Index of the first sample whose magnitude exceeds `threshold`, or -1. */
function firstLoud(ch: Int16Array, from = 0, threshold = 500): number {
  for (let i = from; i < ch.length; i++) if (Math.abs(ch[i]!) > threshold) return i;
  return -1;
}

/** Index of the last loud sample + 1 (end of the audible part), or 0. */
function loudEnd(ch: Int16Array, threshold = 500): number {
  for (let i = ch.length - 1; i >= 0; i--) if (Math.abs(ch[i]!) > threshold) return i + 1;
  return 0;
}

async function readRecording(callId: string, tenantId = 'acme') {
  const bytes = await readFile(recordingFilePath(dataDir, tenantId, callId));
  const wav = parseWav(bytes);
  return { bytes, wav, left: wav.channelData[0]!, right: wav.channelData[1]! };
}

describe('StereoRecorder', () => {
  test('a caller tone lands on the left channel at the sample offset it was received at, and the header matches the data', async () => {
    const s = setup();
    s.caller(10); // 1600 samples of silence
    const t = tone(FRAME * 5, 440);
    s.caller(5, (i) => t.subarray(i * FRAME, (i + 1) * FRAME));
    s.caller(10);
    const meta = await s.rec.close();

    const { bytes, wav, left, right } = await readRecording(s.callId);
    assert.equal(wav.channels, 2);
    assert.equal(wav.sampleRateHz, RATE);
    assert.equal(wav.bitsPerSample, 16);
    assert.equal(left.length, 25 * FRAME);
    assert.deepEqual(left.subarray(1600, 1600 + t.length), t);
    assert.equal(firstLoud(left), firstLoud(t) + 1600);
    assert.equal(firstLoud(right), -1, 'nobody spoke on the agent side');
    // Header sizes were patched to the real data size.
    assert.equal(bytes.readUInt32LE(4), bytes.length - 8);
    assert.equal(bytes.readUInt32LE(40), bytes.length - 44);
    const header = parseWavHeader(bytes);
    assert.equal(header?.dataBytes, 25 * FRAME * 4);
    assert.deepEqual(meta, { path: `recordings/acme/${s.callId}.wav`, bytes: bytes.length, durationMs: 500, sampleRateHz: RATE });
  });

  test('agent audio queued ahead plays back to back from the current position', async () => {
    const s = setup();
    s.caller(50); // position 8000
    const parts = [tone(FRAME, 300), tone(FRAME * 2, 500), tone(FRAME, 700)];
    for (const p of parts) s.rec.outbound(audioFrame(p, RATE)); // handed over at once, faster than real time
    s.caller(100);
    await s.rec.close();

    const { left, right } = await readRecording(s.callId);
    assert.equal(right.length, 150 * FRAME);
    assert.deepEqual(right.subarray(8000, 8160), parts[0]);
    assert.deepEqual(right.subarray(8160, 8480), parts[1]);
    assert.deepEqual(right.subarray(8480, 8640), parts[2]);
    assert.equal(firstLoud(right.subarray(0, 8000)), -1);
    assert.equal(firstLoud(right, 8640), -1);
    assert.equal(firstLoud(left), -1);
  });

  test('agent audio handed over after a pause starts at the current position, not after the earlier reply', async () => {
    const s = setup();
    s.caller(10);
    s.rec.outbound(audioFrame(tone(FRAME, 300), RATE)); // 1600..1760
    s.caller(40); // position 8000: the first reply has long finished
    s.rec.outbound(audioFrame(tone(FRAME, 500), RATE));
    s.caller(10);
    await s.rec.close();
    const { right } = await readRecording(s.callId);
    assert.equal(firstLoud(right, 1760), firstLoud(tone(FRAME, 500)) + 8000);
  });

  test('a clear drops the agent audio the caller had not heard yet', async () => {
    const s = setup();
    s.caller(50); // 8000
    const reply = tone(RATE, 400); // 1 s, queued at once
    for (let i = 0; i < 50; i++) s.rec.outbound(audioFrame(reply.subarray(i * FRAME, (i + 1) * FRAME), RATE));
    s.caller(25); // the caller heard 0.5 s of it, then barged in
    s.rec.clear();
    s.caller(25); // 16000
    const next = tone(FRAME, 900);
    s.rec.outbound(audioFrame(next, RATE));
    s.caller(25);
    await s.rec.close();

    const { right } = await readRecording(s.callId);
    assert.deepEqual(right.subarray(8000, 12000), reply.subarray(0, 4000), 'the heard half is kept');
    assert.equal(firstLoud(right.subarray(12000, 16000)), -1, 'the unheard half is gone');
    assert.deepEqual(right.subarray(16000, 16160), next, 'the next reply starts at the position it was played at');
  });

  test('closing keeps agent audio up to the current position and drops what was still queued', async () => {
    const s = setup();
    s.caller(10); // 1600
    const reply = tone(RATE, 400);
    s.rec.outbound(audioFrame(reply, RATE)); // 1 s queued
    s.caller(25); // heard 0.5 s, then the caller hangs up
    await s.rec.close();
    const { right, left } = await readRecording(s.callId);
    assert.equal(right.length, 35 * FRAME);
    assert.equal(left.length, right.length);
    assert.deepEqual(right.subarray(1600), reply.subarray(0, 35 * FRAME - 1600));
  });

  test('a gap of lost inbound audio while the agent speaks is filled with caller silence, keeping the channels aligned', async () => {
    const s = setup();
    s.caller(50); // 1 s received: position 8000
    s.advance(500); // inbound stalls; the agent speaks half a second into the gap
    s.rec.outbound(audioFrame(tone(FRAME, 600), RATE));
    s.advance(500); // the caller's audio of this second is lost; frames resume at real pace
    const marker = tone(FRAME, 300);
    s.caller(50, (i) => (i === 0 ? marker : new Int16Array(FRAME)));
    await s.rec.close();

    const { left, right } = await readRecording(s.callId);
    const agentAt = firstLoud(right);
    const callerAt = firstLoud(left);
    // Agent heard at 1.5 s, caller spoke at 2.0 s (+ the tones' own onset).
    assert.ok(Math.abs(agentAt - (12000 + firstLoud(tone(FRAME, 600)))) <= FRAME, `agent at ${agentAt}`);
    assert.ok(Math.abs(callerAt - (16000 + firstLoud(marker))) <= FRAME, `caller at ${callerAt}`);
    assert.ok(Math.abs(callerAt - agentAt - 4000) <= FRAME, `relative shift ${callerAt - agentAt - 4000}`);
  });

  test('late inbound audio arriving in a burst fills its own gap: no silence is inserted', async () => {
    const s = setup();
    s.caller(50); // position 8000
    s.advance(500);
    s.rec.outbound(audioFrame(tone(FRAME, 600), RATE)); // heard at 1.5 s
    s.advance(500);
    // The second that was held up arrives all at once; the caller spoke at 1.5 s (frame 25 of it).
    const marker = tone(FRAME, 300);
    for (let i = 0; i < 50; i++) s.rec.inbound(audioFrame(i === 25 ? marker : new Int16Array(FRAME), RATE));
    s.caller(25);
    await s.rec.close();

    const { left, right } = await readRecording(s.callId);
    assert.equal(left.length, 125 * FRAME, 'nothing padded');
    const agentAt = firstLoud(right);
    const callerAt = firstLoud(left);
    assert.equal(callerAt, 12000 + firstLoud(marker));
    assert.ok(Math.abs(callerAt - agentAt) <= FRAME, `relative shift ${callerAt - agentAt}`);
  });

  test('inbound jitter (late frames that catch up) inserts no silence', async () => {
    const s = setup();
    s.caller(50);
    s.advance(60); // the next frame arrives 40 ms late, with the two after it right behind: back on pace
    for (let i = 0; i < 3; i++) s.rec.inbound(audioFrame(new Int16Array(FRAME), RATE));
    s.caller(10);
    await s.rec.close();
    const { left } = await readRecording(s.callId);
    assert.equal(left.length, 63 * FRAME);
  });

  test('a long call keeps its buffers bounded and the file grows with it', async () => {
    const s = setup();
    let maxCaller = 0;
    let maxAgent = 0;
    let maxInFlight = 0;
    const minutes = 10;
    for (let second = 0; second < minutes * 60; second++) {
      if (second % 5 === 0) {
        const reply = tone(RATE * 2, 350); // a 2 s reply every 5 s, handed over at once
        for (let i = 0; i < 100; i++) s.rec.outbound(audioFrame(reply.subarray(i * FRAME, (i + 1) * FRAME), RATE));
      }
      s.caller(50);
      const b = s.rec.buffers;
      maxCaller = Math.max(maxCaller, b.callerSamples);
      maxAgent = Math.max(maxAgent, b.agentSamples);
      maxInFlight = Math.max(maxInFlight, b.inFlightBytes);
      await s.rec.whenWritten();
    }
    const meta = await s.rec.close();
    assert.ok(maxCaller <= RATE, `caller buffer peaked at ${maxCaller} samples`);
    assert.ok(maxAgent <= 2 * RATE, `agent queue peaked at ${maxAgent} samples (one reply)`);
    assert.ok(maxInFlight <= 2 * RATE * 4, `in-flight writes peaked at ${maxInFlight} bytes`);
    assert.equal(meta?.durationMs, minutes * 60_000);
    const { right } = await readRecording(s.callId);
    assert.equal(right.length, minutes * 60 * RATE);
    // The last reply started at 595 s and was fully heard.
    assert.equal(loudEnd(right), 597 * RATE - (RATE * 2 - loudEnd(tone(RATE * 2, 350))));
  });

  test('a file read mid-call is already a valid WAV (placeholder size, read to the end)', async () => {
    const s = setup({ chunkMs: 100 });
    s.caller(50, () => tone(FRAME, 440));
    await s.rec.whenWritten();
    const bytes = await readFile(recordingFilePath(dataDir, 'acme', s.callId));
    assert.equal(bytes.readUInt32LE(40), 0xffffffff);
    const wav = parseWav(bytes);
    assert.equal(wav.channels, 2);
    assert.equal(wav.channelData[0]!.length, 50 * FRAME);
    await s.rec.close();
  });

  test('frames at another rate are converted to the recording rate', async () => {
    const s = setup();
    s.caller(10);
    for (let i = 0; i < 10; i++) s.rec.outbound(audioFrame(tone(2 * FRAME, 400, 8000, 16000), 16000));
    s.caller(20);
    await s.rec.close();
    const { right } = await readRecording(s.callId);
    const loud = loudEnd(right) - firstLoud(right);
    assert.ok(Math.abs(loud - 10 * FRAME) <= 40, `agent audio lasts ${loud} samples at 8 kHz`);
  });

  test('bad frames are dropped without throwing', async () => {
    const s = setup();
    s.caller(5);
    const bad: unknown[] = [
      { kind: 'audio', samples: new Int16Array(FRAME), sampleRateHz: 0 },
      { kind: 'audio', samples: new Int16Array(FRAME), sampleRateHz: Number.NaN },
      { kind: 'audio', samples: [1, 2, 3], sampleRateHz: RATE },
      { kind: 'audio', samples: new Int16Array(0), sampleRateHz: RATE },
      null,
    ];
    for (const f of bad) {
      s.rec.inbound(f as AudioFrame);
      s.rec.outbound(f as AudioFrame);
    }
    s.caller(5);
    const meta = await s.rec.close();
    assert.equal(meta?.durationMs, 200);
  });

  test('a call with no audio leaves no file', async () => {
    const s = setup();
    assert.equal(await s.rec.close(), null);
    assert.equal(existsSync(recordingFilePath(dataDir, 'acme', s.callId)), false);
  });

  test('ids that are not safe path segments record nothing and write nowhere', async () => {
    assert.throws(() => recordingRelativePath('../etc', 'call_1'), RangeError);
    const s = setup({ tenantId: '..', callId: 'x/../../y' });
    s.caller(10);
    assert.equal(await s.rec.close(), null);
    assert.deepEqual(s.warnings, ['recording abandoned']);
  });

  test('an unwritable data directory abandons the recording without disturbing the call', async () => {
    const file = join(dataDir, 'not-a-dir');
    await writeFile(file, 'x');
    const s = setup({ dir: file });
    s.caller(60);
    s.rec.outbound(audioFrame(tone(FRAME, 400), RATE));
    s.rec.clear();
    assert.equal(await s.rec.close(), null);
    assert.deepEqual(s.warnings, ['recording abandoned']);
  });

  test('close is idempotent', async () => {
    const s = setup();
    s.caller(5);
    const [a, b] = await Promise.all([s.rec.close(), s.rec.close()]);
    assert.deepEqual(a, b);
    s.caller(5); // after close: ignored
    assert.equal((await s.rec.close())?.durationMs, 100);
  });
});
