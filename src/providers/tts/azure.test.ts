import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { AudioFrame } from '../../audio/frame.js';
import { concatPcm16 } from '../../audio/pcm16.js';
import { parseSsml, startFakeAzureTts, type FakeAzureTtsScript, type FakeHttpServer } from '../../../test/fakes/azure-tts-server.js';
import { fakeTone } from '../../../test/fakes/openai-tts-server.js';
import { ProviderError } from '../types.js';
import { AzureTts, azureTtsOptionsSchema, xmlEscape, type AzureTtsOptions } from './azure.js';

const KEY = 'test-azure-key';

async function* texts(...chunks: string[]): AsyncIterable<string> {
  yield* chunks;
}

async function collect(frames: AsyncIterable<AudioFrame>): Promise<AudioFrame[]> {
  const out: AudioFrame[] = [];
  for await (const f of frames) out.push(f);
  return out;
}

async function withFake(script: FakeAzureTtsScript, opts: Partial<AzureTtsOptions>, fn: (tts: AzureTts, fake: FakeHttpServer) => Promise<void>): Promise<void> {
  const fake = await startFakeAzureTts(script);
  try {
    await fn(new AzureTts({ apiKey: KEY, baseUrl: fake.url, voice: 'en-US-JennyNeural', ...opts }), fake);
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
  assert.equal(err.provider, 'azure');
  assert.equal(err.retryable, retryable, err.message);
  if (pattern) assert.match(err.message, pattern);
  assert.ok(!err.message.includes(KEY), `key leaked: ${err.message}`);
}

const signal = (): AbortSignal => new AbortController().signal;

describe('AzureTts', () => {
  it('yields 16 kHz ~20 ms frames of the streamed raw PCM by default', async () => {
    await withFake({ audioMs: 430 }, {}, async (tts, fake) => {
      assert.equal(tts.sampleRateHz, 16000);
      const frames = await collect(tts.synthesize(texts('Hello.'), { signal: signal() }));
      assert.ok(frames.slice(0, -1).every((f) => f.samples.length === 320 && f.sampleRateHz === 16000));
      assert.deepEqual(concatPcm16(frames.map((f) => f.samples)), fakeTone(430, 16000));
      assert.equal(fake.requests[0]!.headers['x-microsoft-outputformat'], 'raw-16khz-16bit-mono-pcm');
    });
  });

  it('yields 8 kHz frames for raw-8khz-16bit-mono-pcm', async () => {
    await withFake({ audioMs: 200 }, { outputFormat: 'raw-8khz-16bit-mono-pcm' }, async (tts) => {
      assert.equal(tts.sampleRateHz, 8000);
      const frames = await collect(tts.synthesize(texts('Hello.'), { signal: signal() }));
      assert.equal(frames.length, 10);
      assert.deepEqual(concatPcm16(frames.map((f) => f.samples)), fakeTone(200, 8000));
    });
  });

  it('sends the key, SSML content type, output format and user agent headers', async () => {
    await withFake({}, {}, async (tts, fake) => {
      await collect(tts.synthesize(texts('Hi.'), { signal: signal() }));
      const h = fake.requests[0]!.headers;
      assert.equal(fake.requests[0]!.path, '/cognitiveservices/v1');
      assert.equal(h['ocp-apim-subscription-key'], KEY);
      assert.equal(h['content-type'], 'application/ssml+xml');
      assert.equal(h['user-agent'], 'parley');
    });
  });

  it('speaks the concatenated text as escaped SSML with voice, language and rate', async () => {
    await withFake({}, { language: 'en-GB', voice: 'en-GB-SoniaNeural', rate: '+10%' }, async (tts, fake) => {
      await collect(tts.synthesize(texts(`Tom & "Jerry" <say> `, `it's 5 > 4`), { signal: signal() }));
      const body = fake.requests[0]!.body;
      assert.equal(
        body,
        "<speak version='1.0' xmlns='http://www.w3.org/2001/10/synthesis' xml:lang='en-GB'>" +
          "<voice name='en-GB-SoniaNeural'><prosody rate='+10%'>" +
          'Tom &amp; &quot;Jerry&quot; &lt;say&gt; it&apos;s 5 &gt; 4</prosody></voice></speak>',
      );
      assert.deepEqual(parseSsml(body), { text: `Tom & "Jerry" <say> it's 5 > 4`, voice: 'en-GB-SoniaNeural', lang: 'en-GB', rate: '+10%' });
    });
  });

  it('builds the regional endpoint from region', () => {
    const tts = new AzureTts({ apiKey: KEY, region: 'westeurope', voice: 'en-US-JennyNeural' });
    assert.equal((tts as unknown as { url: string }).url, 'https://westeurope.tts.speech.microsoft.com/cognitiveservices/v1');
  });

  it('reports 401 as non-retryable', async () => {
    await withFake({ apiKey: 'other' }, {}, async (tts) => {
      await expectProviderError(collect(tts.synthesize(texts('Hi.'), { signal: signal() })), false, /HTTP 401/);
    });
  });

  for (const status of [429, 500]) {
    it(`reports HTTP ${status} as retryable, redacting the key from the body`, async () => {
      await withFake({ fault: { kind: 'status', status, message: `busy; key=${KEY}` } }, {}, async (tts) => {
        await expectProviderError(collect(tts.synthesize(texts('Hi.'), { signal: signal() })), true, new RegExp(`HTTP ${status}: busy; key=\\*\\*\\*`));
      });
    });
  }

  it('reports a drop mid-body as retryable after yielding the audio received', async () => {
    await withFake({ fault: { kind: 'drop', afterBytes: 3200 }, chunkBytes: 640 }, {}, async (tts) => {
      const got: AudioFrame[] = [];
      const run = (async () => {
        for await (const f of tts.synthesize(texts('Hi.'), { signal: signal() })) got.push(f);
      })();
      await expectProviderError(run, true, /dropped mid-stream/);
      assert.equal(got.length, 5);
    });
  });

  it('times out a server that never answers as retryable', async () => {
    await withFake({ fault: { kind: 'stall' } }, { timeoutMs: 50 }, async (tts) => {
      await expectProviderError(collect(tts.synthesize(texts('Hi.'), { signal: signal() })), true, /no response/);
    });
  });

  it('stops at once when aborted mid-stream', async () => {
    await withFake({ audioMs: 3000 }, {}, async (tts) => {
      const ac = new AbortController();
      let frames = 0;
      for await (const _f of tts.synthesize(texts('Long.'), { signal: ac.signal })) {
        if (++frames === 4) ac.abort();
      }
      assert.equal(frames, 4);
    });
  });

  it('escapes all five XML specials', () => {
    assert.equal(xmlEscape(`&<>'"`), '&amp;&lt;&gt;&apos;&quot;');
  });

  it('requires region or baseUrl and rejects unknown options', () => {
    assert.ok(azureTtsOptionsSchema.safeParse({ apiKey: 'k', region: 'eastus', voice: 'en-US-JennyNeural' }).success);
    assert.ok(azureTtsOptionsSchema.safeParse({ apiKey: 'k', baseUrl: 'http://localhost:1', voice: 'en-US-JennyNeural' }).success);
    assert.ok(!azureTtsOptionsSchema.safeParse({ apiKey: 'k', voice: 'en-US-JennyNeural' }).success);
    assert.ok(!azureTtsOptionsSchema.safeParse({ apiKey: 'k', region: 'eastus', voice: 'v', outputFormat: 'audio-16khz-32kbitrate-mono-mp3' }).success);
    assert.ok(!azureTtsOptionsSchema.safeParse({ apiKey: 'k', region: 'eastus', voice: 'v', extra: 1 }).success);
    assert.throws(() => new AzureTts({ apiKey: 'k', voice: 'v' }), /region or baseUrl/);
  });
});
