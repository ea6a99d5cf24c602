import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { startFakeWhisper, type FakeWhisper, type FakeWhisperScript } from '../../../test/fakes/whisper-server.js';
import { audioFrame, type AudioFrame } from '../../audio/frame.js';
import { parseWav } from '../../audio/wav.js';
import { ProviderError, type TranscriptEvent } from '../types.js';
import { OpenAiStt, openAiSttOptionsSchema, type OpenAiSttOptions } from './openai-stt.js';

const KEY = 'sk-test-secret-abcdef123456';
/** Upper bound for waiting on something the fake should observe; generous so slow CI does not flake. */
const OBSERVE_TIMEOUT_MS = 5000;

/** `count` 20 ms frames at 8 kHz; sample i of frame f is f * 1000 + i, so the upload can be checked exactly. */
async function* frames(count: number, rateHz = 8000): AsyncGenerator<AudioFrame> {
  for (let f = 0; f < count; f++) yield audioFrame(new Int16Array(rateHz / 50).map((_, i) => f * 1000 + i), rateHz);
}

async function collect(it: AsyncIterable<TranscriptEvent>): Promise<TranscriptEvent[]> {
  const out: TranscriptEvent[] = [];
  for await (const ev of it) out.push(ev);
  return out;
}

async function rejection(p: Promise<unknown>): Promise<ProviderError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof ProviderError, `expected ProviderError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a rejection');
}

const fakes: FakeWhisper[] = [];
async function setup(script: FakeWhisperScript, options: Partial<OpenAiSttOptions> = {}): Promise<{ fake: FakeWhisper; stt: OpenAiStt }> {
  const fake = await startFakeWhisper(script);
  fakes.push(fake);
  return { fake, stt: new OpenAiStt({ baseUrl: fake.url, ...options }) };
}
after(async () => {
  await Promise.all(fakes.map((f) => f.close()));
});

const signal = new AbortController().signal;

describe('OpenAiStt', () => {
  it('utterances seconds apart go up on one kept-alive connection, the server sending no Keep-Alive hint (fetch would drop it after 4 s)', async () => {
    const { fake, stt } = await setup({ texts: ['one', 'two'] });
    assert.deepEqual(await collect(stt.transcribe(frames(3), { signal })), [{ kind: 'final', text: 'one' }]);
    await new Promise((r) => setTimeout(r, 4500));
    assert.deepEqual(await collect(stt.transcribe(frames(3), { signal })), [{ kind: 'final', text: 'two' }]);
    assert.equal(fake.connections(), 1);
  });

  it('prepare() opens the connection ahead of the first upload, which goes up on it', async () => {
    const { fake, stt } = await setup({ texts: ['hello'] });
    stt.prepare();
    for (let i = 0; i < 100 && fake.connections() === 0; i++) await new Promise((r) => setTimeout(r, 5));
    assert.equal(fake.connections(), 1);
    assert.deepEqual(await collect(stt.transcribe(frames(3), { signal })), [{ kind: 'final', text: 'hello' }]);
    assert.equal(fake.connections(), 1);
  });

  it('uploads the utterance as a WAV and yields the text as one final', async () => {
    const { fake, stt } = await setup({ apiKey: KEY, texts: ['I would like a room.'] }, { apiKey: KEY, language: 'en', prompt: 'Hotel Parley' });
    const events = await collect(stt.transcribe(frames(3), { signal }));
    assert.deepEqual(events, [{ kind: 'final', text: 'I would like a room.' }]);
    const [req] = fake.requests;
    assert.ok(req);
    assert.equal(req.path, '/v1/audio/transcriptions');
    assert.equal(req.authorization, `Bearer ${KEY}`);
    assert.equal(req.filename, 'audio.wav');
    assert.deepEqual(req.fields, { model: 'whisper-1', response_format: 'json', language: 'en', prompt: 'Hotel Parley' });
    assert.ok(req.file);
    const wav = parseWav(req.file);
    assert.equal(wav.sampleRateHz, 8000);
    assert.equal(wav.channels, 1);
    assert.equal(wav.samples.length, 3 * 160);
    assert.equal(wav.samples[160 + 5], 1005);
  });

  it('sends no Authorization header without a key (self-hosted servers)', async () => {
    const { fake, stt } = await setup({ texts: ['keyless'] }, { model: 'Systran/faster-whisper-small' });
    assert.deepEqual(await collect(stt.transcribe(frames(2), { signal })), [{ kind: 'final', text: 'keyless' }]);
    assert.equal(fake.requests[0]?.authorization, undefined);
    assert.equal(fake.requests[0]?.fields.model, 'Systran/faster-whisper-small');
  });

  it('transcribes successive utterances with one instance', async () => {
    const { stt } = await setup({ texts: ['one', 'two'] });
    assert.deepEqual(await collect(stt.transcribe(frames(1), { signal })), [{ kind: 'final', text: 'one' }]);
    assert.deepEqual(await collect(stt.transcribe(frames(1), { signal })), [{ kind: 'final', text: 'two' }]);
  });

  it('yields an empty final without a request when there is no audio', async () => {
    const { fake, stt } = await setup({ texts: ['unused'] });
    assert.deepEqual(await collect(stt.transcribe(frames(0), { signal })), [{ kind: 'final', text: '' }]);
    assert.equal(fake.requests.length, 0);
  });

  for (const status of [408, 429, 500, 503]) {
    it(`treats HTTP ${status} as retryable`, async () => {
      const { stt } = await setup({ status });
      const err = await rejection(collect(stt.transcribe(frames(1), { signal })));
      assert.equal(err.retryable, true);
      assert.match(err.message, new RegExp(`HTTP ${status}`));
    });
  }

  it('treats HTTP 400 as not retryable and reports the server message', async () => {
    const { stt } = await setup({ status: 400, errorMessage: 'Invalid language' });
    const err = await rejection(collect(stt.transcribe(frames(1), { signal })));
    assert.equal(err.retryable, false);
    assert.match(err.message, /HTTP 400: Invalid language/);
  });

  it('treats a wrong key as not retryable and keeps keys out of the message', async () => {
    const { stt } = await setup({ status: 401, errorMessage: `Incorrect API key provided: ${KEY}. Also sk-proj-abc***wxyz.` }, { apiKey: KEY });
    const err = await rejection(collect(stt.transcribe(frames(1), { signal })));
    assert.equal(err.retryable, false);
    assert.ok(!err.message.includes(KEY));
    assert.ok(!err.message.includes('abc***wxyz'));
  });

  it('fails retryably when the connection drops', async () => {
    const { stt } = await setup({ drop: true });
    const err = await rejection(collect(stt.transcribe(frames(1), { signal })));
    assert.equal(err.retryable, true);
  });

  it('fails retryably when the server does not answer within timeoutMs', async () => {
    const { stt } = await setup({ stall: true }, { timeoutMs: 100 });
    const err = await rejection(collect(stt.transcribe(frames(1), { signal })));
    assert.equal(err.retryable, true);
    assert.match(err.message, /100 ms/);
  });

  it('cancels the request on abort and ends without a final', async () => {
    const { fake, stt } = await setup({ stall: true });
    const ac = new AbortController();
    const done = collect(stt.transcribe(frames(2), { signal: ac.signal }));
    const deadline = Date.now() + OBSERVE_TIMEOUT_MS;
    while (fake.requests.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.equal(fake.requests.length, 1);
    ac.abort();
    assert.deepEqual(await done, []);
    while (fake.abandoned() === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.equal(fake.abandoned(), 1, 'the server saw the request cancelled');
  });

  it('stops waiting for audio on abort', async () => {
    const { fake, stt } = await setup({ texts: ['unused'] });
    const ac = new AbortController();
    async function* audio(): AsyncGenerator<AudioFrame> {
      yield* frames(1);
      ac.abort();
      await new Promise(() => undefined); // the caller's audio never ends
    }
    assert.deepEqual(await collect(stt.transcribe(audio(), { signal: ac.signal })), []);
    assert.equal(fake.requests.length, 0);
  });

  it('validates options with a strict schema', () => {
    assert.ok(openAiSttOptionsSchema.safeParse({}).success);
    assert.ok(openAiSttOptionsSchema.safeParse({ baseUrl: 'http://whisper:8000/v1', model: 'whisper-1', language: 'en' }).success);
    assert.ok(!openAiSttOptionsSchema.safeParse({ language: 'en-US' }).success);
    assert.ok(!openAiSttOptionsSchema.safeParse({ apiKey: 'k', extra: true }).success);
  });
});
