import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resample } from '../../audio/resampler.js';
import { ProviderError } from '../types.js';
import { DecoderCapacityError, PocketsphinxEngine, type DecoderHandle } from './pocketsphinx-engine.js';
import { sharedDataPath } from '../../../test/support/shared-data.js';

/** 16 kHz mono PCM16 LE, no header; pocketsphinx's own test utterance. */
const GOFORWARD_RAW = sharedDataPath('speech', 'goforward.raw');
const CHUNK_SAMPLES = 320; // 20 ms at 16 kHz

function loadGoForward(): Int16Array {
  const buf = readFileSync(GOFORWARD_RAW);
  return new Int16Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
}

/** goforward band-limited to telephone bandwidth (8 kHz) and brought back to the model's 16 kHz. */
function loadNarrowbandGoForward(): Int16Array {
  return resample(resample(loadGoForward(), 16000, 8000), 8000, 16000);
}

async function decode(handle: DecoderHandle, samples: Int16Array): Promise<string> {
  handle.startUtterance();
  for (let i = 0; i < samples.length; i += CHUNK_SAMPLES) handle.feed(samples.subarray(i, i + CHUNK_SAMPLES));
  return (await handle.endUtterance()).text;
}

describe('PocketsphinxEngine', () => {
  const audio = loadGoForward();
  const engines: PocketsphinxEngine[] = [];
  const newEngine = (o: ConstructorParameters<typeof PocketsphinxEngine>[0]): PocketsphinxEngine => {
    const e = new PocketsphinxEngine(o);
    engines.push(e);
    return e;
  };
  after(async () => {
    await Promise.all(engines.map((e) => e.close()));
  });

  it('decodes real speech and reports the measured costs', async (t) => {
    const engine = newEngine({ workerCount: 1, maxDecoders: 2 });
    const h = await engine.acquire();
    h.startUtterance();
    let partial = '';
    for (let i = 0; i < audio.length; i += CHUNK_SAMPLES) {
      // Transferring a fresh copy exercises the zero-copy path; the source stays intact.
      h.feed(audio.slice(i, i + CHUNK_SAMPLES), { transfer: true });
      if (i === CHUNK_SAMPLES * 100) partial = await h.partial();
    }
    const result = await h.endUtterance();
    assert.equal(result.text, 'go forward ten meters');
    assert.ok(partial.startsWith('go'), `partial after 2 s was "${partial}"`);
    assert.equal(result.chunks, Math.ceil(audio.length / CHUNK_SAMPLES));
    t.diagnostic(
      `init ${h.initMs.toFixed(0)} ms, rss +${(h.rssDeltaBytes / 2 ** 20).toFixed(0)} MiB, ` +
        `${(result.processMs / result.chunks).toFixed(2)} ms per 20 ms chunk`,
    );
    h.release();
  });

  it('reuses a released decoder instead of creating another', async () => {
    const engine = newEngine({ workerCount: 1, maxDecoders: 2 });
    const first = await engine.acquire();
    const id = first.decoderId;
    first.release();
    const second = await engine.acquire();
    assert.equal(second.decoderId, id);
    assert.equal(await decode(second, audio), 'go forward ten meters');
    assert.deepEqual(engine.stats(), { workers: 1, decoders: 1, inUse: 1, idle: 0, maxDecoders: 2 });
    second.release();
  });

  it('a decoder released mid-utterance decodes cleanly for the next call', async () => {
    const engine = newEngine({ workerCount: 1, maxDecoders: 1 });
    const first = await engine.acquire();
    first.startUtterance();
    first.feed(audio.subarray(0, audio.length / 2)); // "go forward" left dangling
    first.release();
    const second = await engine.acquire();
    assert.equal(second.decoderId, first.decoderId);
    assert.equal(await decode(second, audio), 'go forward ten meters');
    second.release();
  });

  it("a previous call's narrowband channel does not bias the next call's decoding", async () => {
    const engine = newEngine({ workerCount: 1, maxDecoders: 1 });
    const first = await engine.acquire();
    // A phone call: band-limited audio adapts the decoder's cepstral means towards the narrow band.
    const narrow = loadNarrowbandGoForward();
    for (let round = 0; round < 2; round++) {
      first.startUtterance({ inputRateHz: 8000 });
      for (let i = 0; i < narrow.length; i += CHUNK_SAMPLES) first.feed(narrow.subarray(i, i + CHUNK_SAMPLES));
      // Narrowband decoding is borderline on "ten" ("go forward and meters"); the bias check is below.
      assert.match((await first.endUtterance()).text, /^go forward \w+ meters$/);
    }
    first.release();
    // Without resetting CMN per lease this decodes as "still small words ten meters".
    const second = await engine.acquire();
    assert.equal(second.decoderId, first.decoderId);
    second.startUtterance({ inputRateHz: 16000 });
    for (let i = 0; i < audio.length; i += CHUNK_SAMPLES) second.feed(audio.subarray(i, i + CHUNK_SAMPLES));
    assert.equal((await second.endUtterance()).text, 'go forward ten meters');
    second.release();
  });

  it('rejects acquisitions beyond the cap with DecoderCapacityError, and admits again after a release', async () => {
    const engine = newEngine({ workerCount: 1, maxDecoders: 2 });
    const [a, b] = await Promise.all([engine.acquire(), engine.acquire()]);
    await assert.rejects(engine.acquire(), (err: unknown) => {
      assert.ok(err instanceof DecoderCapacityError);
      assert.ok(err instanceof ProviderError);
      assert.match(err.message, /all 2 decoders are in use/);
      return true;
    });
    a.release();
    const c = await engine.acquire();
    assert.equal(c.decoderId, a.decoderId);
    assert.equal(engine.stats().decoders, 2);
    b.release();
    c.release();
  });

  it('a released handle can no longer drive the decoder', async () => {
    const engine = newEngine({ workerCount: 1, maxDecoders: 1 });
    const h = await engine.acquire();
    h.release();
    h.release(); // idempotent
    assert.throws(() => h.startUtterance(), /used after release/);
    await assert.rejects(h.endUtterance(), /used after release/);
  });

  it('a failing request affects only its own decoder', async () => {
    const engine = newEngine({ workerCount: 1, maxDecoders: 2 });
    const [bad, good] = await Promise.all([engine.acquire(), engine.acquire()]);
    good.startUtterance();
    bad.feed(audio.subarray(0, CHUNK_SAMPLES)); // no utterance open: a protocol misuse
    await assert.rejects(bad.endUtterance(), /outside an utterance/);
    for (let i = 0; i < audio.length; i += CHUNK_SAMPLES) good.feed(audio.subarray(i, i + CHUNK_SAMPLES));
    assert.equal((await good.endUtterance()).text, 'go forward ten meters');
    // The failed decoder recovers for its next utterance.
    assert.equal(await decode(bad, audio), 'go forward ten meters');
    bad.release();
    good.release();
  });

  it('when a worker dies its handles fail with ProviderError and a new worker serves later calls', async () => {
    const engine = newEngine({ workerCount: 1, maxDecoders: 2 });
    const h = await engine.acquire();
    h.startUtterance();
    await engine.killWorkerOf(h);
    await assert.rejects(h.endUtterance(), (err: unknown) => err instanceof ProviderError && /worker is gone/.test(err.message));
    assert.throws(() => h.feed(audio), ProviderError);
    h.release();
    assert.equal(engine.stats().decoders, 0);
    const fresh = await engine.acquire();
    assert.equal(await decode(fresh, audio), 'go forward ten meters');
    fresh.release();
  });

  it('warm() pre-creates idle decoders and acquire fails once the engine is closed', async () => {
    const engine = newEngine({ workerCount: 2, maxDecoders: 3 });
    await engine.warm(2);
    assert.deepEqual(engine.stats(), { workers: 2, decoders: 2, inUse: 0, idle: 2, maxDecoders: 3 });
    await engine.close();
    await assert.rejects(engine.acquire(), /engine is closed/);
  });
});
