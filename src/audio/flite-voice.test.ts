import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { speakWithFlite } from './flite-voice.js';
import { rmsDbfs } from './pcm16.js';

describe('speakWithFlite', () => {
  it('returns audible speech at 8 kHz by default', async () => {
    const samples = await speakWithFlite('i would like to book a room for three nights');
    const seconds = samples.length / 8000;
    assert.ok(seconds > 1 && seconds < 6, `${seconds.toFixed(2)} s`);
    assert.ok(rmsDbfs(samples) > -40, `level ${rmsDbfs(samples).toFixed(1)} dBFS`);
  });

  it('resamples to the requested rate, keeping the duration', async () => {
    const at8k = await speakWithFlite('good morning', { sampleRateHz: 8000 });
    const at16k = await speakWithFlite('good morning', { sampleRateHz: 16000 });
    assert.equal(at16k.length, at8k.length * 2);
  });

  it('speaks text that looks like options, and other voices work', async () => {
    const samples = await speakWithFlite('-o /tmp/should-not-exist yes', { voice: 'slt' });
    assert.ok(samples.length > 0);
  });

  it('returns nothing for empty text and leaves no temporary files behind', async () => {
    // A root of its own: other test files run flite concurrently in the shared temp dir.
    const root = mkdtempSync(join(tmpdir(), 'parley-flite-test-'));
    assert.equal((await speakWithFlite('  \n ', { tempRoot: root })).length, 0);
    await speakWithFlite('hello', { tempRoot: root });
    assert.deepEqual(readdirSync(root), []);
    rmSync(root, { recursive: true });
  });

  it('fails with the cause when flite cannot run', async () => {
    await assert.rejects(speakWithFlite('hello', { binary: '/nonexistent/flite' }), /ENOENT/);
    // flite itself would silently fall back to its default voice here.
    await assert.rejects(speakWithFlite('hello', { voice: 'no_such_voice' }), /no voice "no_such_voice" \(available: .*rms/);
    await assert.rejects(speakWithFlite('hello', { voice: '/nonexistent.flitevox' }), /failed to load voice/);
  });
});
