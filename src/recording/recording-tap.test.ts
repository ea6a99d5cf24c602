import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { audioFrame, type AudioFrame } from '../audio/frame.js';
import type { CallRecording } from '../store/types.js';
import type { MediaHandler, MediaTransport } from '../transports/types.js';
import { tapForRecording, type RecordingSink } from './recording-tap.js';

const RECORDING: CallRecording = { path: 'recordings/acme/call_1.wav', bytes: 44, durationMs: 0, sampleRateHz: 8000 };

function fakes(closeResult: Promise<CallRecording | null> = Promise.resolve(RECORDING)) {
  const log: string[] = [];
  const transport: MediaTransport = {
    sampleRateHz: 8000,
    play: (f) => log.push(`transport.play ${f.samples.length}`),
    mark: (n) => log.push(`transport.mark ${n}`),
    clear: () => log.push('transport.clear'),
    hangup: (r) => log.push(`transport.hangup ${r}`),
  };
  const handler: MediaHandler = {
    onStart: () => log.push('handler.start'),
    onAudio: (f, at) => log.push(`handler.audio ${f.samples.length}@${at}`),
    onDtmf: (d) => log.push(`handler.dtmf ${d}`),
    onMark: (n, at) => log.push(`handler.mark ${n}@${at}`),
    onAudioSent: (ms, at) => log.push(`handler.sent ${ms}@${at}`),
    onEnd: (r) => log.push(`handler.end ${r}`),
  };
  const sink: RecordingSink = {
    inbound: (f: AudioFrame) => log.push(`rec.inbound ${f.samples.length}`),
    outbound: (f: AudioFrame) => log.push(`rec.outbound ${f.samples.length}`),
    clear: () => log.push('rec.clear'),
    close: () => {
      log.push('rec.close');
      return closeResult;
    },
  };
  return { log, transport, handler, sink };
}

describe('tapForRecording', () => {
  test('the recorder sees inbound frames, outbound frames and clears; everything is forwarded unchanged', async () => {
    const f = fakes();
    const tap = tapForRecording(f.transport, f.handler, f.sink);
    assert.equal(tap.transport.sampleRateHz, 8000);
    tap.handler.onStart();
    tap.handler.onAudio(audioFrame(new Int16Array(160), 8000), 12);
    tap.transport.play(audioFrame(new Int16Array(320), 8000));
    tap.transport.mark('m1');
    tap.handler.onAudioSent(20, 30);
    tap.handler.onMark('m1', 40);
    tap.handler.onDtmf('5');
    tap.transport.clear();
    tap.transport.hangup('agent_hangup');
    tap.handler.onEnd('agent_hangup');
    assert.deepEqual(await tap.recording, RECORDING);
    assert.deepEqual(f.log, [
      'handler.start',
      'rec.inbound 160',
      'handler.audio 160@12',
      'rec.outbound 320',
      'transport.play 320',
      'transport.mark m1',
      'handler.sent 20@30',
      'handler.mark m1@40',
      'handler.dtmf 5',
      'rec.clear',
      'transport.clear',
      'transport.hangup agent_hangup',
      'handler.end agent_hangup',
      'rec.close',
    ]);
  });

  test('a handler factory receives the wrapped transport, so the session plays through the recorder', () => {
    const f = fakes();
    let given: MediaTransport | undefined;
    const tap = tapForRecording(f.transport, (t) => {
      given = t;
      return f.handler;
    }, f.sink);
    assert.equal(given, tap.transport);
    given!.play(audioFrame(new Int16Array(80), 8000));
    assert.deepEqual(f.log, ['rec.outbound 80', 'transport.play 80']);
  });

  test('the recorder closes once, even if the stream ends twice or the session throws while ending', async () => {
    const f = fakes();
    const tap = tapForRecording(f.transport, { ...f.handler, onEnd: () => { throw new Error('session cleanup failed'); } }, f.sink);
    assert.throws(() => tap.handler.onEnd('caller_hangup'), /session cleanup failed/);
    tap.handler.onEnd('caller_hangup');
    assert.deepEqual(await tap.recording, RECORDING);
    assert.deepEqual(f.log.filter((l) => l === 'rec.close'), ['rec.close']);
  });

  test('a recorder that fails to close settles the recording as null', async () => {
    const f = fakes(Promise.reject(new Error('disk gone')));
    const tap = tapForRecording(f.transport, f.handler, f.sink);
    tap.handler.onEnd('caller_hangup');
    assert.equal(await tap.recording, null);
  });

  test('a handler factory that throws releases the recorder', () => {
    const f = fakes();
    assert.throws(() => tapForRecording(f.transport, () => { throw new Error('no session'); }, f.sink), /no session/);
    assert.deepEqual(f.log, ['rec.close']);
  });
});
