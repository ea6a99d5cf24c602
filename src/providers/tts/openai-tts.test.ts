import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { AudioFrame } from '../../audio/frame.js';
import { concatPcm16 } from '../../audio/pcm16.js';
import { fakeTone, startFakeOpenAiTts, type FakeOpenAiTtsScript, type FakeHttpServer } from '../../../test/fakes/openai-tts-server.js';
import { ProviderError } from '../types.js';
import { OpenAiTts, openAiTtsOptionsSchema, splitText, type OpenAiTtsOptions } from './openai-tts.js';

const KEY = 'test-openai-key';

async function* texts(...chunks: string[]): AsyncIterable<string> {
  yield* chunks;
}

async function collect(frames: AsyncIterable<AudioFrame>): Promise<AudioFrame[]> {
  const out: AudioFrame[] = [];
  for await (const f of frames) out.push(f);
  return out;
}

async function withFake(script: FakeOpenAiTtsScript, opts: OpenAiTtsOptions, fn: (tts: OpenAiTts, fake: FakeHttpServer) => Promise<void>): Promise<void> {
  const fake = await startFakeOpenAiTts(script);
  try {
    await fn(new OpenAiTts({ apiKey: KEY, baseUrl: fake.url, ...opts }), fake);
  } finally {
    await fake.close();
  }
}

async function expectProviderError(p: Promise<unknown>, retryable: boolean, pattern?: RegExp): Promise<void> {
  const err = await p.then(
    () => assert.fail('expected a ProviderError'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof ProviderError, `not a ProviderError: ${String(err)}`);
  assert.equal(err.provider, 'openai');
  assert.equal(err.retryable, retryable, err.message);
  if (pattern) assert.match(err.message, pattern);
  assert.ok(!err.message.includes(KEY), `key leaked: ${err.message}`);
}

const signal = (): AbortSignal => new AbortController().signal;

describe('OpenAiTts', () => {
  it('sentences seconds apart go out on one kept-alive connection, the API sending no Keep-Alive hint (fetch would drop it after 4 s)', async () => {
    await withFake({ audioMs: 100 }, {}, async (tts, fake) => {
      assert.ok((await collect(tts.synthesize(texts('One.'), { signal: signal() }))).length > 0);
      await new Promise((r) => setTimeout(r, 4500));
      assert.ok((await collect(tts.synthesize(texts('Two.'), { signal: signal() }))).length > 0);
      assert.equal(fake.requests.length, 2);
      assert.equal(fake.connections(), 1);
    });
  });

  it('prepare() opens the connection ahead of the first sentence, which goes out on it', async () => {
    await withFake({ audioMs: 100 }, {}, async (tts, fake) => {
      tts.prepare();
      for (let i = 0; i < 100 && fake.connections() === 0; i++) await new Promise((r) => setTimeout(r, 5));
      assert.equal(fake.connections(), 1, 'connected before any text');
      assert.equal(fake.requests.length, 0);
      assert.ok((await collect(tts.synthesize(texts('Hello.'), { signal: signal() }))).length > 0);
      assert.equal(fake.connections(), 1);
    });
  });

  it('yields the streamed 24 kHz PCM as ~20 ms frames with every sample intact', async () => {
    await withFake({ audioMs: 510 }, {}, async (tts) => {
      assert.equal(tts.sampleRateHz, 24000);
      const frames = await collect(tts.synthesize(texts('Hello there.'), { signal: signal() }));
      assert.ok(frames.every((f) => f.sampleRateHz === 24000));
      assert.ok(frames.slice(0, -1).every((f) => f.samples.length === 480));
      assert.deepEqual(concatPcm16(frames.map((f) => f.samples)), fakeTone(510, 24000));
    });
  });

  it('posts model, voice, the concatenated input and response_format pcm with a bearer key', async () => {
    await withFake({}, { model: 'tts-1', voice: 'nova', speed: 1.25, instructions: 'Warm.' }, async (tts, fake) => {
      await collect(tts.synthesize(texts('Hel', 'lo,\n world.'), { signal: signal() }));
      const req = fake.requests[0]!;
      assert.equal(req.path, '/v1/audio/speech');
      assert.equal(req.headers.authorization, `Bearer ${KEY}`);
      assert.deepEqual(req.json, { model: 'tts-1', voice: 'nova', input: 'Hello, world.', response_format: 'pcm', speed: 1.25, instructions: 'Warm.' });
    });
  });

  it('uses defaults gpt-4o-mini-tts and alloy', async () => {
    await withFake({}, {}, async (tts, fake) => {
      await collect(tts.synthesize(texts('Hi.'), { signal: signal() }));
      assert.deepEqual(fake.requests[0]!.json, { model: 'gpt-4o-mini-tts', voice: 'alloy', input: 'Hi.', response_format: 'pcm' });
    });
  });

  it('sends no Authorization header in keyless mode', async () => {
    const fake = await startFakeOpenAiTts({ apiKey: null, audioMs: 100 });
    try {
      const frames = await collect(new OpenAiTts({ baseUrl: fake.url }).synthesize(texts('Hi.'), { signal: signal() }));
      assert.equal(frames.length, 5);
      assert.equal(fake.requests[0]!.headers.authorization, undefined);
    } finally {
      await fake.close();
    }
  });

  it('makes no request for blank text', async () => {
    await withFake({}, {}, async (tts, fake) => {
      assert.deepEqual(await collect(tts.synthesize(texts(' ', '\n'), { signal: signal() })), []);
      assert.equal(fake.requests.length, 0);
    });
  });

  it('reports 401 as non-retryable without echoing the key the server quoted', async () => {
    await withFake({ apiKey: 'another-key' }, {}, async (tts) => {
      await expectProviderError(collect(tts.synthesize(texts('Hi.'), { signal: signal() })), false, /HTTP 401: .*Incorrect API key provided: \*\*\*/);
    });
  });

  for (const status of [429, 500, 503]) {
    it(`reports HTTP ${status} as retryable`, async () => {
      await withFake({ fault: { kind: 'status', status } }, {}, async (tts) => {
        await expectProviderError(collect(tts.synthesize(texts('Hi.'), { signal: signal() })), true, new RegExp(`HTTP ${status}`));
      });
    });
  }

  it('reports 400 as non-retryable', async () => {
    await withFake({ fault: { kind: 'status', status: 400 } }, {}, async (tts) => {
      await expectProviderError(collect(tts.synthesize(texts('Hi.'), { signal: signal() })), false, /HTTP 400/);
    });
  });

  it('reports a drop mid-body as retryable after yielding the audio received', async () => {
    await withFake({ fault: { kind: 'drop', afterBytes: 9600 }, chunkBytes: 960 }, {}, async (tts) => {
      const got: AudioFrame[] = [];
      const run = (async () => {
        for await (const f of tts.synthesize(texts('Hi.'), { signal: signal() })) got.push(f);
      })();
      await expectProviderError(run, true, /dropped mid-stream/);
      assert.equal(got.length, 10);
    });
  });

  it('times out a server that never answers as retryable', async () => {
    await withFake({ fault: { kind: 'stall' } }, { timeoutMs: 50 }, async (tts) => {
      await expectProviderError(collect(tts.synthesize(texts('Hi.'), { signal: signal() })), true, /no response from the server/);
    });
  });

  it('times out a body that never starts as retryable', async () => {
    await withFake({ fault: { kind: 'stall-body' } }, { timeoutMs: 50 }, async (tts) => {
      await expectProviderError(collect(tts.synthesize(texts('Hi.'), { signal: signal() })), true, /no response from the server/);
    });
  });

  it('reports an unreachable server as retryable', async () => {
    const fake = await startFakeOpenAiTts();
    await fake.close();
    const tts = new OpenAiTts({ apiKey: KEY, baseUrl: fake.url });
    await expectProviderError(collect(tts.synthesize(texts('Hi.'), { signal: signal() })), true, /request failed/);
  });

  it('stops at once when aborted mid-stream, and when aborted while waiting for the server', async () => {
    await withFake({ audioMs: 3000 }, {}, async (tts) => {
      const ac = new AbortController();
      let frames = 0;
      for await (const _f of tts.synthesize(texts('Long.'), { signal: ac.signal })) {
        if (++frames === 2) ac.abort();
      }
      assert.equal(frames, 2);
    });
    await withFake({ fault: { kind: 'stall' } }, {}, async (tts, fake) => {
      const ac = new AbortController();
      const run = collect(tts.synthesize(texts('Hi.'), { signal: ac.signal }));
      while (fake.requests.length === 0) await new Promise((r) => setImmediate(r));
      ac.abort();
      assert.deepEqual(await run, []);
    });
  });

  it('splits text over the input limit at sentence boundaries', () => {
    assert.deepEqual(splitText('One two. Three four.', 12), ['One two.', 'Three four.']);
    assert.deepEqual(splitText('abcdefghij', 4), ['abcd', 'efgh', 'ij']);
    assert.deepEqual(splitText('short', 10), ['short']);
  });

  it('validates options with a strict schema', () => {
    assert.ok(openAiTtsOptionsSchema.safeParse({}).success);
    assert.ok(openAiTtsOptionsSchema.safeParse({ apiKey: 'k', speed: 2 }).success);
    assert.ok(!openAiTtsOptionsSchema.safeParse({ speed: 9 }).success);
    assert.ok(!openAiTtsOptionsSchema.safeParse({ bogus: true }).success);
  });
});
