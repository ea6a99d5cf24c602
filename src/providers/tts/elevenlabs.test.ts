import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { AudioFrame } from '../../audio/frame.js';
import { mulawDecode, mulawEncode } from '../../audio/mulaw.js';
import { concatPcm16 } from '../../audio/pcm16.js';
import { startFakeElevenLabs, type FakeElevenLabsScript } from '../../../test/fakes/elevenlabs-server.js';
import { fakeTone } from '../../../test/fakes/openai-tts-server.js';
import { ProviderError } from '../types.js';
import { ElevenLabsTts, elevenLabsTtsOptionsSchema, type ElevenLabsTtsOptions } from './elevenlabs.js';

const KEY = 'test-elevenlabs-key';

async function* texts(...chunks: string[]): AsyncIterable<string> {
  yield* chunks;
}

async function collect(frames: AsyncIterable<AudioFrame>): Promise<AudioFrame[]> {
  const out: AudioFrame[] = [];
  for await (const f of frames) out.push(f);
  return out;
}

async function withFake<T>(
  script: FakeElevenLabsScript,
  opts: Partial<ElevenLabsTtsOptions>,
  fn: (tts: ElevenLabsTts, fake: Awaited<ReturnType<typeof startFakeElevenLabs>>) => Promise<T>,
): Promise<T> {
  const fake = await startFakeElevenLabs(script);
  try {
    return await fn(new ElevenLabsTts({ apiKey: KEY, voiceId: 'voice123', baseUrl: fake.url, ...opts }), fake);
  } finally {
    await fake.close();
  }
}

async function expectProviderError(p: Promise<unknown>, retryable: boolean, pattern?: RegExp): Promise<ProviderError> {
  const err = await p.then(
    () => assert.fail('expected a ProviderError'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof ProviderError, `not a ProviderError: ${String(err)}`);
  assert.equal(err.provider, 'elevenlabs');
  assert.equal(err.retryable, retryable, err.message);
  if (pattern) assert.match(err.message, pattern);
  assert.ok(!err.message.includes(KEY), `key leaked: ${err.message}`);
  return err;
}

const signal = (): AbortSignal => new AbortController().signal;

describe('ElevenLabsTts', () => {
  it('yields ~20 ms mu-law-decoded 8 kHz frames totalling the audio of every chunk', async () => {
    await withFake({ audioMsPerChunk: 300 }, {}, async (tts) => {
      assert.equal(tts.sampleRateHz, 8000);
      const frames = await collect(tts.synthesize(texts('Hello there.', 'How are you?'), { signal: signal() }));
      assert.ok(frames.every((f) => f.sampleRateHz === 8000 && f.samples.length <= 160));
      assert.ok(frames.slice(0, -1).every((f) => f.samples.length === 160));
      const all = concatPcm16(frames.map((f) => f.samples));
      const oneChunk = mulawDecode(mulawEncode(fakeTone(300, 8000)));
      assert.deepEqual(all, concatPcm16([oneChunk, oneChunk]));
    });
  });

  it('yields PCM16 at the rate of a pcm output format', async () => {
    await withFake({ audioMsPerChunk: 250 }, { outputFormat: 'pcm_22050' }, async (tts, fake) => {
      assert.equal(tts.sampleRateHz, 22050);
      const frames = await collect(tts.synthesize(texts('Hi.'), { signal: signal() }));
      assert.ok(frames.every((f) => f.sampleRateHz === 22050));
      assert.deepEqual(concatPcm16(frames.map((f) => f.samples)), fakeTone(250, 22050));
      assert.equal(fake.requests[0]!.query.output_format, 'pcm_22050');
    });
  });

  it('authenticates with the xi-api-key header and sends init, flushed text chunks, then empty text', async () => {
    await withFake({}, { model: 'eleven_turbo_v2_5', stability: 0.4, similarityBoost: 0.8 }, async (tts, fake) => {
      await collect(tts.synthesize(texts('Hello  there.', '   ', 'Bye.'), { signal: signal() }));
      const conn = fake.requests[0]!;
      assert.equal(conn.headers['xi-api-key'], KEY);
      assert.equal(conn.voiceId, 'voice123');
      assert.deepEqual(conn.query, { model_id: 'eleven_turbo_v2_5', output_format: 'ulaw_8000' });
      assert.deepEqual(conn.messages, [
        { text: ' ', voice_settings: { stability: 0.4, similarity_boost: 0.8 } },
        { text: 'Hello there. ', flush: true },
        { text: 'Bye. ', flush: true },
        { text: '' },
      ]);
      assert.ok(!JSON.stringify(conn.messages).includes(KEY), 'key must travel in the header only');
      assert.ok(!tts.url().includes(KEY));
    });
  });

  it('yields audio for the first chunk before the text source has ended', async () => {
    await withFake({}, {}, async (tts) => {
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      async function* slowText(): AsyncIterable<string> {
        yield 'First sentence.';
        await gate;
        yield 'Second.';
      }
      let framesBeforeRelease = 0;
      let released = false;
      for await (const _f of tts.synthesize(slowText(), { signal: signal() })) {
        if (!released) {
          framesBeforeRelease++;
          released = true;
          release();
        }
      }
      assert.equal(framesBeforeRelease, 1);
    });
  });

  it('reports a refused upgrade with 401 as non-retryable without leaking the key', async () => {
    await withFake({ apiKey: 'the-right-key' }, {}, async (tts) => {
      await expectProviderError(collect(tts.synthesize(texts('Hi.'), { signal: signal() })), false, /401/);
    });
  });

  for (const status of [429, 500, 503]) {
    it(`reports a refused upgrade with ${status} as retryable`, async () => {
      await withFake({ fault: { kind: 'status', status } }, {}, async (tts) => {
        await expectProviderError(collect(tts.synthesize(texts('Hi.'), { signal: signal() })), true, new RegExp(String(status)));
      });
    });
  }

  it('reports a drop before isFinal as a retryable error after yielding the audio received', async () => {
    await withFake({ fault: { kind: 'drop', afterMessages: 2 }, messageMs: 100 }, {}, async (tts) => {
      const got: AudioFrame[] = [];
      const run = (async () => {
        for await (const f of tts.synthesize(texts('Hello there.'), { signal: signal() })) got.push(f);
      })();
      await expectProviderError(run, true, /dropped mid-stream/);
      assert.equal(got.length, 10, 'two 100 ms messages = ten 20 ms frames');
    });
  });

  it('turns a server error message into a ProviderError with the key redacted', async () => {
    await withFake({ fault: { kind: 'error-message', message: `quota exceeded for ${KEY}`, error: 'quota_exceeded' } }, {}, async (tts) => {
      await expectProviderError(collect(tts.synthesize(texts('Hi.'), { signal: signal() })), false, /quota exceeded for \*\*\*/);
    });
  });

  it('times out a handshake that never completes as retryable', async () => {
    await withFake({ fault: { kind: 'stall' } }, { connectTimeoutMs: 50 }, async (tts) => {
      await expectProviderError(collect(tts.synthesize(texts('Hi.'), { signal: signal() })), true, /cannot connect/);
    });
  });

  it('times out a server that never sends audio as retryable', async () => {
    await withFake({ fault: { kind: 'silent' } }, { responseTimeoutMs: 50 }, async (tts) => {
      await expectProviderError(collect(tts.synthesize(texts('Hi.'), { signal: signal() })), true, /no audio/);
    });
  });

  it('stops at once and closes the socket when aborted mid-stream', async () => {
    await withFake({ audioMsPerChunk: 2000 }, {}, async (tts, fake) => {
      const ac = new AbortController();
      let frames = 0;
      for await (const _f of tts.synthesize(texts('A long sentence.'), { signal: ac.signal })) {
        frames++;
        if (frames === 3) ac.abort();
      }
      assert.equal(frames, 3);
      await waitFor(() => fake.requests[0]!.closed);
    });
  });

  it('returns without connecting when already aborted', async () => {
    await withFake({}, {}, async (tts, fake) => {
      const ac = new AbortController();
      ac.abort();
      assert.deepEqual(await collect(tts.synthesize(texts('Hi.'), { signal: ac.signal })), []);
      assert.equal(fake.requests.length, 0);
    });
  });

  it('validates options with a strict schema', () => {
    assert.ok(elevenLabsTtsOptionsSchema.safeParse({ apiKey: 'k', voiceId: 'abc', outputFormat: 'pcm_16000' }).success);
    assert.ok(!elevenLabsTtsOptionsSchema.safeParse({ apiKey: 'k', voiceId: 'abc', outputFormat: 'mp3_44100_128' }).success);
    assert.ok(!elevenLabsTtsOptionsSchema.safeParse({ apiKey: 'k', voiceId: 'abc', extra: 1 }).success);
    assert.ok(!elevenLabsTtsOptionsSchema.safeParse({ apiKey: 'k', voiceId: '../x' }).success);
  });
});

/** Polls a condition on the event loop (no wall-clock assertion: the test runner's timeout bounds it). */
async function waitFor(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setImmediate(r));
}
