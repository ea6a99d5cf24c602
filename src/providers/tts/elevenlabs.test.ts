import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { AudioFrame } from '../../audio/frame.js';
import { mulawDecode, mulawEncode } from '../../audio/mulaw.js';
import { concatPcm16 } from '../../audio/pcm16.js';
import { startFakeElevenLabs, type FakeElevenLabsScript, type FakeElevenLabsServer } from '../../../test/fakes/elevenlabs-server.js';
import { fakeTone } from '../../../test/fakes/openai-tts-server.js';
import { ProviderError } from '../types.js';
import { ElevenLabsTts, elevenLabsTtsOptionsSchema, type ElevenLabsTtsOptions, type ElevenLabsTuning } from './elevenlabs.js';

const KEY = 'test-elevenlabs-key';

async function* texts(...chunks: string[]): AsyncIterable<string> {
  yield* chunks;
}

async function collect(frames: AsyncIterable<AudioFrame>): Promise<AudioFrame[]> {
  const out: AudioFrame[] = [];
  for await (const f of frames) out.push(f);
  return out;
}

const samplesOf = (frames: readonly AudioFrame[]): Int16Array => concatPcm16(frames.map((f) => f.samples));

async function withFake<T>(
  script: FakeElevenLabsScript,
  opts: Partial<ElevenLabsTtsOptions>,
  fn: (tts: ElevenLabsTts, fake: FakeElevenLabsServer) => Promise<T>,
  tuning: ElevenLabsTuning = {},
): Promise<T> {
  const fake = await startFakeElevenLabs(script);
  const tts = new ElevenLabsTts({ apiKey: KEY, voiceId: 'voice123', baseUrl: fake.url, ...opts }, tuning);
  try {
    return await fn(tts, fake);
  } finally {
    await tts.close();
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
  it('yields mu-law-decoded 8 kHz frames of whole 20 ms units, up to 100 ms, totalling the audio of every chunk', async () => {
    await withFake({ audioMsPerChunk: 300, messageMs: 150 }, {}, async (tts) => {
      assert.equal(tts.sampleRateHz, 8000);
      const frames = await collect(tts.synthesize(texts('Hello there.', 'How are you?'), { signal: signal() }));
      assert.ok(frames.every((f) => f.sampleRateHz === 8000 && f.samples.length <= 800));
      // A 150 ms message: 100 + 40 ms at once (whole 20 ms units); its last 10 ms go out with the next message.
      assert.deepEqual(frames.slice(0, 3).map((f) => f.samples.length), [800, 320, 800]);
      assert.ok(frames.slice(0, -1).every((f) => f.samples.length % 160 === 0));
      const oneChunk = mulawDecode(mulawEncode(fakeTone(300, 8000)));
      assert.deepEqual(samplesOf(frames), concatPcm16([oneChunk, oneChunk]));
    });
  });

  it('yields PCM16 at the rate of a pcm output format', async () => {
    await withFake({ audioMsPerChunk: 250 }, { outputFormat: 'pcm_22050' }, async (tts, fake) => {
      assert.equal(tts.sampleRateHz, 22050);
      const frames = await collect(tts.synthesize(texts('Hi.'), { signal: signal() }));
      assert.ok(frames.every((f) => f.sampleRateHz === 22050));
      assert.deepEqual(samplesOf(frames), fakeTone(250, 22050));
      assert.equal(fake.requests[0]!.query.output_format, 'pcm_22050');
    });
  });

  it('connects to multi-stream-input with the key in the header and speaks one context: init, flushed text, close_context', async () => {
    await withFake({}, { model: 'eleven_turbo_v2_5', stability: 0.4, similarityBoost: 0.8 }, async (tts, fake) => {
      await collect(tts.synthesize(texts('Hello  there.', '   ', 'Bye.'), { signal: signal() }));
      const conn = fake.requests[0]!;
      assert.equal(conn.path, '/v1/text-to-speech/voice123/multi-stream-input');
      assert.equal(conn.headers['xi-api-key'], KEY);
      assert.deepEqual(conn.query, { model_id: 'eleven_turbo_v2_5', output_format: 'ulaw_8000', inactivity_timeout: '20' });
      const id = conn.contexts[0]!.id;
      assert.deepEqual(conn.messages, [
        { text: ' ', context_id: id, voice_settings: { stability: 0.4, similarity_boost: 0.8 } },
        { text: 'Hello there. ', context_id: id, flush: true },
        { text: 'Bye. ', context_id: id, flush: true },
        { context_id: id, close_context: true },
      ]);
      assert.ok(conn.contexts[0]!.finalSent);
      assert.ok(!JSON.stringify(conn.messages).includes(KEY), 'key must travel in the header only');
      assert.ok(!tts.url().includes(KEY));
    });
  });

  it('three sentences of one call share one socket, one context each', async () => {
    await withFake({ audioMsPerChunk: 200 }, { outputFormat: 'pcm_16000' }, async (tts, fake) => {
      for (const sentence of ['One.', 'Two.', 'Three.']) {
        const frames = await collect(tts.synthesize(texts(sentence), { signal: signal() }));
        assert.deepEqual(samplesOf(frames), fakeTone(200, 16000), sentence);
      }
      assert.equal(fake.acceptedConnections, 1);
      assert.equal(fake.requests.length, 1);
      const contexts = fake.requests[0]!.contexts;
      assert.equal(contexts.length, 3);
      assert.equal(new Set(contexts.map((c) => c.id)).size, 3, 'a fresh context id per sentence');
      assert.ok(contexts.every((c) => c.closeRequested && c.finalSent));
      assert.equal(fake.openConnections, 1, 'still open for the next sentence');
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

  it('keeps a context alive with empty text while its text source is slow', async () => {
    await withFake({}, {}, async (tts, fake) => {
      async function* slowText(): AsyncIterable<string> {
        await new Promise((r) => setTimeout(r, 60));
        yield 'Late.';
      }
      const frames = await collect(tts.synthesize(slowText(), { signal: signal() }));
      assert.ok(frames.length > 0);
      const ctx = fake.requests[0]!.contexts[0]!;
      assert.ok(ctx.keepAlives >= 1, `keep-alives: ${ctx.keepAlives}`);
      assert.ok(ctx.messages.some((m) => JSON.stringify(m) === JSON.stringify({ text: '', context_id: ctx.id })));
    }, { keepAliveMs: 20 });
  });

  it('a barge-in closes its context and the next sentence still speaks on the same socket', async () => {
    await withFake({ audioMsPerChunk: 2000, messageIntervalMs: 10 }, { outputFormat: 'pcm_16000' }, async (tts, fake) => {
      // The reply is still streaming text when the caller barges in, so the abort is what closes the context.
      let release!: () => void;
      const more = new Promise<void>((r) => (release = r));
      async function* streaming(): AsyncIterable<string> {
        yield 'A long sentence.';
        await more;
        yield 'Never sent.';
      }
      const ac = new AbortController();
      let frames = 0;
      for await (const _f of tts.synthesize(streaming(), { signal: ac.signal })) {
        frames++;
        if (frames === 3) ac.abort();
      }
      release();
      assert.equal(frames, 3, 'nothing is yielded after the abort');
      const first = fake.requests[0]!.contexts[0]!;
      await waitFor(() => first.closeRequested);
      assert.deepEqual(first.messages.at(-1), { context_id: first.id, close_context: true });
      assert.ok(!JSON.stringify(first.messages).includes('Never sent'));
      assert.equal(fake.requests[0]!.closed, false, 'the socket survives a barge-in');

      const next = await collect(tts.synthesize(texts('Sorry, go ahead.'), { signal: signal() }));
      assert.deepEqual(samplesOf(next), fakeTone(2000, 16000));
      assert.equal(fake.acceptedConnections, 1);
      assert.equal(fake.requests[0]!.contexts.length, 2);
    });
  });

  it('audio for a closed context is never yielded, even while it keeps arriving during the next sentence', async () => {
    const toneHz = (text: string): number => (text.startsWith('Interrupted') ? 300 : 700);
    await withFake({ audioMsPerChunk: 1000, messageIntervalMs: 15, toneHz }, { outputFormat: 'pcm_16000' }, async (tts, fake) => {
      const ac = new AbortController();
      for await (const _f of tts.synthesize(texts('Interrupted reply.'), { signal: ac.signal })) {
        ac.abort();
      }
      const zombie = fake.requests[0]!.contexts[0]!;
      const sentBeforeNext = zombie.audioMessagesSent;
      const next = await collect(tts.synthesize(texts('Next reply.'), { signal: signal() }));
      await waitFor(() => zombie.finalSent);
      assert.ok(zombie.audioMessagesSent > sentBeforeNext, 'the closed context kept sending (the test exercises the drop)');
      assert.deepEqual(samplesOf(next), fakeTone(1000, 16000, 700), 'only the new context’s own audio');
      assert.equal(fake.acceptedConnections, 1);
    });
  });

  it('a dropped socket is reopened for the next sentence', async () => {
    await withFake({ audioMsPerChunk: 200 }, { outputFormat: 'pcm_16000' }, async (tts, fake) => {
      await collect(tts.synthesize(texts('Before.'), { signal: signal() }));
      fake.dropConnections();
      await waitFor(() => fake.openConnections === 0);
      const frames = await collect(tts.synthesize(texts('After.'), { signal: signal() }));
      assert.deepEqual(samplesOf(frames), fakeTone(200, 16000));
      assert.equal(fake.acceptedConnections, 2);
      assert.equal(fake.requests[1]!.contexts.length, 1);
    });
  });

  it('a sentence whose reused socket dies before any of its audio is replayed once on a new socket', async () => {
    // Connection 0 carries sentence one (two 100 ms messages), then dies as sentence two's audio is due.
    const fault = (i: number) => (i === 0 ? ({ kind: 'drop', afterMessages: 2 } as const) : undefined);
    await withFake({ audioMsPerChunk: 200, fault }, { outputFormat: 'pcm_16000' }, async (tts, fake) => {
      await collect(tts.synthesize(texts('First.'), { signal: signal() }));
      const frames = await collect(tts.synthesize(texts('Second.'), { signal: signal() }));
      assert.deepEqual(samplesOf(frames), fakeTone(200, 16000));
      assert.equal(fake.acceptedConnections, 2);
      const replayed = fake.requests[1]!.contexts[0]!;
      assert.deepEqual(
        replayed.messages.map((m) => (m as { text?: string }).text ?? 'close'),
        [' ', 'Second. ', 'close'],
      );
    });
  });

  it('close() closes the socket with close_socket and is idempotent; a later sentence reconnects', async () => {
    await withFake({}, {}, async (tts, fake) => {
      await collect(tts.synthesize(texts('Hi.'), { signal: signal() }));
      await tts.close();
      await waitFor(() => fake.requests[0]!.closed);
      assert.equal(fake.requests[0]!.closeSocketReceived, true);
      assert.deepEqual(fake.requests[0]!.messages.at(-1), { close_socket: true });
      await tts.close();
      assert.equal(fake.openConnections, 0);
      await collect(tts.synthesize(texts('Again.'), { signal: signal() }));
      assert.equal(fake.acceptedConnections, 2);
    });
  });

  it('close() ends a synthesis still running without an error', async () => {
    await withFake({ audioMsPerChunk: 2000, messageIntervalMs: 20 }, {}, async (tts, fake) => {
      let frames = 0;
      for await (const _f of tts.synthesize(texts('Long.'), { signal: signal() })) {
        if (++frames === 1) void tts.close();
      }
      assert.ok(frames < 100);
      await waitFor(() => fake.requests[0]!.closed);
    });
  });

  it('prepare() opens the socket before any text, and the first sentence speaks on it', async () => {
    await withFake({ audioMsPerChunk: 200 }, { outputFormat: 'pcm_16000' }, async (tts, fake) => {
      tts.prepare();
      await waitFor(() => fake.openConnections === 1);
      assert.equal(fake.requests[0]!.contexts.length, 0, 'no context yet');
      const frames = await collect(tts.synthesize(texts('Hello.'), { signal: signal() }));
      assert.deepEqual(samplesOf(frames), fakeTone(200, 16000));
      assert.equal(fake.acceptedConnections, 1);
    });
  });

  it('a prepared socket nobody uses is closed after the idle period', async () => {
    await withFake({}, {}, async (tts, fake) => {
      tts.prepare();
      await waitFor(() => fake.openConnections === 1);
      await waitFor(() => fake.requests[0]!.closed);
      // A normal close frame only: the first message on a socket must open a context, so no close_socket.
      assert.deepEqual(fake.requests[0]!.messages, []);
      assert.equal(fake.openConnections, 0);
    }, { idleCloseMs: 200 });
  });

  it('prepare() on an idle socket keeps it for another idle period, and after the idle close opens a new one', async () => {
    await withFake({}, {}, async (tts, fake) => {
      tts.prepare();
      await waitFor(() => fake.openConnections === 1);
      for (let i = 0; i < 4; i++) {
        await new Promise((r) => setTimeout(r, 150)); // 600 ms in all: three idle periods, each cut short
        tts.prepare();
      }
      assert.equal(fake.acceptedConnections, 1, 'the same socket');
      assert.equal(fake.openConnections, 1, 'still open');
      await waitFor(() => fake.openConnections === 0); // left alone, it is closed
      tts.prepare();
      await waitFor(() => fake.openConnections === 1);
      assert.equal(fake.acceptedConnections, 2);
      const frames = await collect(tts.synthesize(texts('Hello.'), { signal: signal() }));
      assert.ok(frames.length > 0);
      assert.equal(fake.acceptedConnections, 2, 'the sentence went on the re-prepared socket');
    }, { idleCloseMs: 200 });
  });

  it('a failed prepare() is silent; the first sentence reports the failure', async () => {
    await withFake({ apiKey: 'the-right-key' }, {}, async (tts, fake) => {
      tts.prepare();
      await waitFor(() => fake.requests.length === 1);
      await expectProviderError(collect(tts.synthesize(texts('Hello.'), { signal: signal() })), false, /401/);
    });
  });

  it('closes a socket left without a context for the idle period', async () => {
    await withFake({}, {}, async (tts, fake) => {
      await collect(tts.synthesize(texts('Hi.'), { signal: signal() }));
      assert.equal(fake.openConnections, 1);
      await waitFor(() => fake.requests[0]!.closed);
      assert.equal(fake.requests[0]!.closeSocketReceived, true);
      await collect(tts.synthesize(texts('Later.'), { signal: signal() }));
      assert.equal(fake.acceptedConnections, 2);
    }, { idleCloseMs: 30 });
  });

  it('reports a refused upgrade with 401 as non-retryable without leaking the key', async () => {
    await withFake({ apiKey: 'the-right-key' }, {}, async (tts) => {
      await expectProviderError(collect(tts.synthesize(texts('Hi.'), { signal: signal() })), false, /401/);
    });
  });

  for (const status of [429, 500, 503]) {
    it(`reports a refused upgrade with ${status} as retryable, and reconnects for the next sentence`, async () => {
      await withFake({ fault: (i) => (i === 0 ? { kind: 'status', status } : undefined) }, {}, async (tts, fake) => {
        await expectProviderError(collect(tts.synthesize(texts('Hi.'), { signal: signal() })), true, new RegExp(String(status)));
        assert.ok((await collect(tts.synthesize(texts('Hi again.'), { signal: signal() }))).length > 0);
        assert.equal(fake.requests.length, 2);
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
      assert.equal(got.reduce((n, f) => n + f.samples.length, 0), 1600, 'two 100 ms messages, all of it');
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

  it('times out a server that never sends audio as retryable, and does not reuse that socket', async () => {
    await withFake({ fault: (i) => (i === 0 ? { kind: 'silent' } : undefined) }, { responseTimeoutMs: 50 }, async (tts, fake) => {
      await expectProviderError(collect(tts.synthesize(texts('Hi.'), { signal: signal() })), true, /no audio/);
      assert.ok((await collect(tts.synthesize(texts('Hi again.'), { signal: signal() }))).length > 0);
      assert.equal(fake.acceptedConnections, 2);
    });
  });

  it('a failing text source fails the synthesis with its own error and closes only that context', async () => {
    await withFake({}, {}, async (tts, fake) => {
      async function* broken(): AsyncIterable<string> {
        yield 'Start.';
        await new Promise((r) => setTimeout(r, 20));
        throw new Error('llm went away');
      }
      await assert.rejects(collect(tts.synthesize(broken(), { signal: signal() })), /llm went away/);
      const ctx = fake.requests[0]!.contexts[0]!;
      await waitFor(() => ctx.closeRequested);
      assert.ok((await collect(tts.synthesize(texts('Next.'), { signal: signal() }))).length > 0);
      assert.equal(fake.acceptedConnections, 1);
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
    assert.ok(elevenLabsTtsOptionsSchema.safeParse({ apiKey: 'k', voiceId: 'abc', baseUrl: 'wss://api.eu.residency.elevenlabs.io', connectTimeoutMs: 3000, responseTimeoutMs: 8000 }).success);
    assert.ok(!elevenLabsTtsOptionsSchema.safeParse({ apiKey: 'k', voiceId: 'abc', outputFormat: 'mp3_44100_128' }).success);
    assert.ok(!elevenLabsTtsOptionsSchema.safeParse({ apiKey: 'k', voiceId: 'abc', extra: 1 }).success);
    assert.ok(!elevenLabsTtsOptionsSchema.safeParse({ apiKey: 'k', voiceId: '../x' }).success);
  });
});

/** Polls a condition; fails (instead of hanging) if it does not hold within a generous bound. */
async function waitFor(cond: () => boolean, boundMs = 5000): Promise<void> {
  const giveUpAt = Date.now() + boundMs;
  while (!cond()) {
    if (Date.now() > giveUpAt) assert.fail(`condition not met within ${boundMs} ms: ${cond.toString()}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}
