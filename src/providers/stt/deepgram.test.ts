import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { WebSocketServer } from 'ws';
import { startFakeDeepgram, type FakeDeepgram, type FakeDeepgramScript } from '../../../test/fakes/deepgram-server.js';
import { audioFrame, type AudioFrame } from '../../audio/frame.js';
import { ProviderError, type TranscriptEvent } from '../types.js';
import { DeepgramStt, deepgramSttOptionsSchema, type DeepgramSttOptions } from './deepgram.js';

const KEY = 'dg-secret-key-123';
/** Upper bound for waiting on something the fake should observe; generous so slow CI does not flake. */
const OBSERVE_TIMEOUT_MS = 5000;

/** `count` 20 ms frames at 8 kHz of a non-silent ramp. */
async function* frames(count: number, rateHz = 8000): AsyncGenerator<AudioFrame> {
  for (let i = 0; i < count; i++) {
    const samples = new Int16Array(rateHz / 50).map((_, j) => ((i * 37 + j * 11) % 2000) - 1000);
    yield audioFrame(samples, rateHz);
  }
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

/** Polls until `cond` holds (bounded), for effects of timers we do not control. */
async function eventually(cond: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + OBSERVE_TIMEOUT_MS;
  while (!cond()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const fakes: FakeDeepgram[] = [];
const providers: DeepgramStt[] = [];
async function setup(script: FakeDeepgramScript, options: Partial<DeepgramSttOptions> = {}): Promise<{ fake: FakeDeepgram; stt: DeepgramStt }> {
  const fake = await startFakeDeepgram({ apiKey: KEY, ...script });
  fakes.push(fake);
  const stt = new DeepgramStt({ apiKey: KEY, baseUrl: fake.url, ...options });
  providers.push(stt);
  return { fake, stt };
}
after(async () => {
  await Promise.all(providers.map((p) => p.close()));
  await Promise.all(fakes.map((f) => f.close()));
});

const signal = new AbortController().signal;

describe('DeepgramStt', () => {
  it('transcribes two utterances over one socket with partials and one final each', async () => {
    const { fake, stt } = await setup({
      interimEveryAudioMessages: 1, // audio goes out in 100 ms messages (5 frames)
      utterances: [
        { interim: ['hello', 'hello there'], finals: ['Hello there,', 'I need a room.'] },
        { interim: ['for two'], finals: ['For two nights.'] },
      ],
    });
    const first = await collect(stt.transcribe(frames(10), { signal }));
    assert.deepEqual(first, [
      { kind: 'partial', text: 'hello' },
      { kind: 'partial', text: 'hello there' },
      { kind: 'final', text: 'Hello there, I need a room.', confidence: 0.98 },
    ]);
    const second = await collect(stt.transcribe(frames(5), { signal }));
    assert.deepEqual(second, [
      { kind: 'partial', text: 'for two' },
      { kind: 'final', text: 'For two nights.', confidence: 0.98 },
    ]);
    assert.equal(fake.received.connections, 1);
    // 15 frames of 20 ms go out as three 100 ms messages; every byte arrives.
    assert.equal(fake.received.audioMessages, 3);
    assert.equal(fake.received.audioBytes, 15 * 160 * 2);
  });

  it('sends Finalize at the end of each utterance', async () => {
    const { fake, stt } = await setup({ utterances: [{ finals: ['one'] }, { finals: ['two'] }] });
    await collect(stt.transcribe(frames(3), { signal }));
    assert.deepEqual(fake.received.messageTypes, ['Finalize']);
    await collect(stt.transcribe(frames(3), { signal }));
    assert.deepEqual(fake.received.messageTypes, ['Finalize', 'Finalize']);
  });

  it('connects with the token header and the documented query', async () => {
    const { fake, stt } = await setup({ utterances: [{ finals: ['ok'] }] }, { model: 'nova-3', language: 'en-GB', endpointingMs: 250 });
    await collect(stt.transcribe(frames(2, 16000), { signal }));
    assert.deepEqual(fake.received.authorizations, [`Token ${KEY}`]);
    assert.deepEqual(fake.received.queries[0], {
      encoding: 'linear16',
      sample_rate: '16000',
      channels: '1',
      model: 'nova-3',
      language: 'en-GB',
      interim_results: 'true',
      punctuate: 'true',
      smart_format: 'true',
      endpointing: '250',
    });
  });

  it('sends KeepAlive while idle between utterances', async () => {
    const { fake, stt } = await setup({ utterances: [{ finals: ['one'] }] }, { keepAliveMs: 20 });
    await collect(stt.transcribe(frames(2), { signal }));
    await eventually(() => fake.received.messageTypes.includes('KeepAlive'), 'a KeepAlive');
    assert.equal(fake.received.connections, 1);
  });

  it('yields an empty final without connecting when the utterance has no audio', async () => {
    const { fake, stt } = await setup({});
    assert.deepEqual(await collect(stt.transcribe(frames(0), { signal })), [{ kind: 'final', text: '' }]);
    assert.equal(fake.received.queries.length, 0);
  });

  it('rejects a 401 upgrade as not retryable and keeps the key out of the message', async () => {
    const fake = await startFakeDeepgram({ apiKey: 'the-right-key' });
    fakes.push(fake);
    const stt = new DeepgramStt({ apiKey: KEY, baseUrl: fake.url });
    providers.push(stt);
    const err = await rejection(collect(stt.transcribe(frames(2), { signal })));
    assert.equal(err.retryable, false);
    assert.match(err.message, /401/);
    assert.ok(!err.message.includes(KEY));
  });

  for (const status of [429, 500]) {
    it(`rejects a ${status} upgrade as retryable`, async () => {
      const { stt } = await setup({ rejectStatus: status });
      const err = await rejection(collect(stt.transcribe(frames(2), { signal })));
      assert.equal(err.retryable, true);
      assert.match(err.message, new RegExp(String(status)));
      assert.ok(!err.message.includes(KEY));
    });
  }

  it('fails retryably when the server never completes the upgrade', async () => {
    const { stt } = await setup({ stall: 'upgrade' }, { connectTimeoutMs: 100 });
    const err = await rejection(collect(stt.transcribe(frames(2), { signal })));
    assert.equal(err.retryable, true);
    assert.ok(!err.message.includes(KEY));
  });

  it('fails retryably when the connection is refused', async () => {
    const fake = await startFakeDeepgram({});
    const url = fake.url;
    await fake.close();
    const stt = new DeepgramStt({ apiKey: KEY, baseUrl: url });
    providers.push(stt);
    const err = await rejection(collect(stt.transcribe(frames(2), { signal })));
    assert.equal(err.retryable, true);
    assert.ok(!err.message.includes(KEY));
  });

  it('fails retryably when the socket drops mid-utterance, then reconnects for the next one', async () => {
    const { fake, stt } = await setup({ dropAfterAudioMessages: 3, utterances: [{ finals: ['after reconnect'] }] });
    const err = await rejection(collect(stt.transcribe(frames(50), { signal })));
    assert.equal(err.retryable, true);
    assert.ok(!err.message.includes(KEY));
    const events = await collect(stt.transcribe(frames(3), { signal }));
    assert.deepEqual(events.at(-1), { kind: 'final', text: 'after reconnect', confidence: 0.98 });
    assert.equal(fake.received.connections, 2);
  });

  it('yields what it has when Finalize is never confirmed', async () => {
    const { stt } = await setup(
      { stall: 'finalize', interimEveryAudioMessages: 1, utterances: [{ interim: ['maybe'], finals: [] }] },
      { finalizeTimeoutMs: 50 },
    );
    const events = await collect(stt.transcribe(frames(1), { signal }));
    assert.deepEqual(events.at(-1), { kind: 'final', text: '' });
    assert.equal(events.filter((e) => e.kind === 'final').length, 1);
  });

  it('ignores a late answer to the previous utterance', async () => {
    const { stt } = await setup(
      { deferFinalizeReplies: true, utterances: [{ finals: ['first answer'] }, { finals: ['second answer'] }] },
      { finalizeTimeoutMs: 50 },
    );
    assert.deepEqual(await collect(stt.transcribe(frames(3), { signal })), [{ kind: 'final', text: '' }]);
    // The fake now sends utterance 1's answer, then holds utterance 2's until a third Finalize.
    const second = await collect(stt.transcribe(frames(3), { signal }));
    assert.deepEqual(second, [{ kind: 'final', text: '' }]);
    const third = await collect(stt.transcribe(frames(3), { signal }));
    assert.deepEqual(third, [{ kind: 'final', text: '' }], 'utterance 2 text must not leak into utterance 3');
  });

  it('ends an aborted utterance without a final', async () => {
    const { stt } = await setup({ utterances: [{ finals: ['never'] }] });
    const ac = new AbortController();
    async function* audio(): AsyncGenerator<AudioFrame> {
      yield* frames(2);
      ac.abort();
      await new Promise(() => undefined); // the caller's audio never ends
    }
    const events = await collect(stt.transcribe(audio(), { signal: ac.signal }));
    assert.equal(events.filter((e) => e.kind === 'final').length, 0);
  });

  it('abort while the audio source is stalled returns at once without a final, and sends no later audio', async () => {
    // A long Finalize wait: the utterance must end on the abort itself, not on a timeout.
    const { fake, stt } = await setup({ utterances: [{ finals: ['never'] }] }, { finalizeTimeoutMs: 10_000 });
    const ac = new AbortController();
    let stalled!: () => void;
    const isStalled = new Promise<void>((r) => (stalled = r));
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    async function* audio(): AsyncGenerator<AudioFrame> {
      yield* frames(3);
      stalled(); // the provider has taken (and sent to its batch) all three frames
      await released;
      yield* frames(10); // arrives only after the abort
    }
    const run = collect(stt.transcribe(audio(), { signal: ac.signal }));
    await isStalled;
    const t0 = Date.now();
    ac.abort();
    const events = await run;
    assert.ok(Date.now() - t0 < 1000, `took ${Date.now() - t0} ms after abort`);
    assert.equal(events.filter((e) => e.kind === 'final').length, 0);
    // The abandoned utterance's audio is flushed and finalized; the frames the source yields later never go out.
    await eventually(() => fake.received.messageTypes.includes('Finalize'), 'the Finalize of the aborted utterance');
    assert.equal(fake.received.audioBytes, 3 * 160 * 2);
    release();
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(fake.received.audioBytes, 3 * 160 * 2);
    // The socket is still good for the next utterance.
    const next = await collect(stt.transcribe(frames(2), { signal }));
    assert.equal(next.filter((e) => e.kind === 'final').length, 1);
    assert.equal(fake.received.connections, 1);
  });

  it('fails at once when the socket drops while the audio source is stalled', async () => {
    const { stt } = await setup({ dropAfterAudioMessages: 1 });
    async function* audio(): AsyncGenerator<AudioFrame> {
      yield* frames(5); // exactly one 100 ms message, which the fake answers by dropping the connection
      await new Promise(() => undefined); // then the caller's audio never comes
    }
    const err = await rejection(collect(stt.transcribe(audio(), { signal })));
    assert.equal(err.retryable, true);
  });

  it('sends every sample in order while it reuses its 100 ms message buffers', async () => {
    // A bare server that keeps the bytes (the fake only counts them) and answers Finalize at once.
    const http = createServer();
    const wss = new WebSocketServer({ server: http });
    const messages: Buffer[] = [];
    wss.on('connection', (ws) => {
      ws.on('message', (data: Buffer, isBinary: boolean) => {
        if (isBinary) return void messages.push(Buffer.from(data));
        const type = (JSON.parse(data.toString()) as { type?: string }).type;
        if (type === 'Finalize') {
          ws.send(JSON.stringify({ type: 'Results', start: 0, duration: 1e6, is_final: true, from_finalize: true, channel: { alternatives: [{ transcript: '' }] } }));
        } else if (type === 'CloseStream') ws.close(1000);
      });
    });
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
    const stt = new DeepgramStt({ apiKey: KEY, baseUrl: `ws://127.0.0.1:${(http.address() as AddressInfo).port}` });
    try {
      const sent: Int16Array[] = [];
      async function* recorded(count: number, first: number): AsyncGenerator<AudioFrame> {
        for (let i = first; i < first + count; i++) {
          const samples = new Int16Array(160).map((_, j) => i * 160 + j - 16000);
          sent.push(samples);
          yield audioFrame(samples, 8000);
          if (i % 7 === 0) await new Promise((r) => setImmediate(r)); // let some sends complete mid-utterance
        }
      }
      await collect(stt.transcribe(recorded(23, 0), { signal })); // 4 full messages and a partial one
      await collect(stt.transcribe(recorded(12, 23), { signal })); // 2 full, 1 partial
      await eventually(() => messages.reduce((n, m) => n + m.length, 0) === 35 * 320, 'all audio bytes');
      assert.deepEqual(messages.map((m) => m.length), [1600, 1600, 1600, 1600, 960, 1600, 1600, 640]);
      const got = Buffer.concat(messages);
      const want = Buffer.concat(sent.map((s) => Buffer.from(s.buffer, s.byteOffset, s.byteLength)));
      assert.ok(got.equals(want), 'the bytes Deepgram got differ from the frames sent');
    } finally {
      await stt.close();
      for (const c of wss.clients) c.terminate();
      await new Promise<void>((r) => wss.close(() => r()));
      await new Promise<void>((r) => http.close(() => r()));
    }
  });

  it('sends CloseStream on close and is idempotent', async () => {
    const { fake, stt } = await setup({ utterances: [{ finals: ['bye'] }] });
    await collect(stt.transcribe(frames(2), { signal }));
    await stt.close();
    await stt.close();
    assert.equal(fake.received.messageTypes.at(-1), 'CloseStream');
    await assert.rejects(collect(stt.transcribe(frames(1), { signal })), (e: unknown) => e instanceof ProviderError && !e.retryable);
  });

  it('prepare() opens the socket before any audio, and the first utterance uses it', async () => {
    const { fake, stt } = await setup({ utterances: [{ finals: ['hello'] }] });
    stt.prepare(8000);
    await eventually(() => fake.received.connections === 1, 'the prepared connection');
    assert.equal(fake.received.audioMessages, 0);
    assert.equal(fake.received.queries[0]?.sample_rate, '8000');
    const events = await collect(stt.transcribe(frames(3), { signal }));
    assert.deepEqual(events.at(-1), { kind: 'final', text: 'hello', confidence: 0.98 });
    assert.equal(fake.received.connections, 1, 'no second connection');
  });

  it('an utterance that starts while the prepared connection is still opening waits for it instead of opening another', async () => {
    const { fake, stt } = await setup({ utterances: [{ finals: ['hello'] }] });
    stt.prepare(8000);
    const events = await collect(stt.transcribe(frames(3), { signal }));
    assert.equal(events.at(-1)?.kind, 'final');
    assert.equal(fake.received.connections, 1);
  });

  it('a connection prepared at another rate than the first utterance is replaced', async () => {
    const { fake, stt } = await setup({ utterances: [{ finals: ['hello'] }] });
    stt.prepare(16000);
    await eventually(() => fake.received.connections === 1, 'the prepared connection');
    const events = await collect(stt.transcribe(frames(3, 8000), { signal }));
    assert.equal(events.at(-1)?.kind, 'final');
    assert.deepEqual(fake.received.queries.map((q) => q.sample_rate), ['16000', '8000']);
  });

  it('a connection prepared at another rate that lands while the first utterance connects is closed, not leaked', async () => {
    const { fake, stt } = await setup({ utterances: [{ finals: ['hello'] }] });
    stt.prepare(16000);
    const events = await collect(stt.transcribe(frames(3, 8000), { signal }));
    assert.equal(events.at(-1)?.kind, 'final');
    assert.equal(fake.received.connections, 2);
    await eventually(() => fake.received.open === 1, 'only the socket in use left open');
  });

  it('a failed prepare() is silent; the first utterance connects again and reports the failure', async () => {
    const fake = await startFakeDeepgram({ apiKey: 'the-right-key' });
    fakes.push(fake);
    const stt = new DeepgramStt({ apiKey: KEY, baseUrl: fake.url });
    providers.push(stt);
    stt.prepare(8000);
    await eventually(() => fake.received.authorizations.length === 1, 'the prepared attempt');
    const err = await rejection(collect(stt.transcribe(frames(2), { signal })));
    assert.equal(err.retryable, false);
    assert.match(err.message, /401/);
    assert.equal(fake.received.authorizations.length, 2);
  });

  it('close() while a prepared connection is still opening leaves nothing open', async () => {
    const { fake, stt } = await setup({ stall: 'upgrade' }, { connectTimeoutMs: 30_000 });
    stt.prepare(8000);
    await eventually(() => fake.received.queries.length === 1, 'the upgrade request');
    const started = Date.now();
    await stt.close();
    assert.ok(Date.now() - started < 10_000, 'close did not wait for the 30 s handshake timeout');
    await assert.rejects(collect(stt.transcribe(frames(1), { signal })), (e: unknown) => e instanceof ProviderError && !e.retryable);
  });

  it('validates options with a strict schema', () => {
    assert.ok(deepgramSttOptionsSchema.safeParse({ apiKey: 'k', model: 'nova-2', endpointingMs: 300 }).success);
    assert.ok(!deepgramSttOptionsSchema.safeParse({ apiKey: 'k', extra: 1 }).success);
    assert.ok(!deepgramSttOptionsSchema.safeParse({ apiKey: 'k', baseUrl: 'https://api.deepgram.com' }).success);
    assert.ok(!deepgramSttOptionsSchema.safeParse({}).success);
  });
});
