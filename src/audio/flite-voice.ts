/**
 * Synthetic caller speech from CMU flite, for the simulated caller and STT tests: a different synthesizer
 * from the agent's TTS, so the recognizer is not just hearing its own voice back.
 *
 * flite cannot write WAV to stdout (`-o -` creates a file named "-"), so it renders into a private
 * temporary directory that is always removed afterwards.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { resample } from './resampler.js';
import { parseWav } from './wav.js';

const execFileAsync = promisify(execFile);

/**
 * flite renders a sentence in tens of milliseconds; this only stops a wedged process from hanging a
 * simulation or test run forever.
 */
const FLITE_TIMEOUT_MS = 30_000;

export interface FliteVoiceOptions {
  /** flite voice (`flite -lv`): kal, kal16, awb, rms, slt, awb_time. Default 'rms'. */
  readonly voice?: string;
  /** Output rate. Default 8000 (telephone). */
  readonly sampleRateHz?: number;
  /** Executable name or path. Default 'flite'. */
  readonly binary?: string;
  /** Where the per-call scratch directory is made. Default the OS temp dir. */
  readonly tempRoot?: string;
}

const builtinVoices = new Map<string, Promise<readonly string[]>>();

/**
 * flite silently falls back to its default voice for an unknown name, so check names against `flite -lv`.
 * Paths and URLs (to .flitevox files) are checked by their load error instead.
 */
async function checkVoice(binary: string, voice: string): Promise<void> {
  if (/[/:]/.test(voice)) return;
  let list = builtinVoices.get(binary);
  if (!list) {
    list = execFileAsync(binary, ['-lv'], { timeout: FLITE_TIMEOUT_MS }).then(({ stdout }) =>
      stdout.replace(/^.*?:/, '').trim().split(/\s+/),
    );
    list.catch(() => builtinVoices.delete(binary));
    builtinVoices.set(binary, list);
  }
  const voices = await list;
  if (!voices.includes(voice)) throw new Error(`flite has no voice "${voice}" (available: ${voices.join(', ')})`);
}

/**
 * Speaks `text` with flite and returns mono PCM16 at `sampleRateHz`.
 * Empty or whitespace-only text gives an empty array without running flite.
 */
export async function speakWithFlite(text: string, o: FliteVoiceOptions = {}): Promise<Int16Array> {
  const voice = o.voice ?? 'rms';
  const sampleRateHz = o.sampleRateHz ?? 8000;
  const clean = text.replace(/[\u0000-\u001f\u007f-\u009f]+/g, ' ').trim();
  if (clean.length === 0) return new Int16Array(0);
  const binary = o.binary ?? 'flite';
  await checkVoice(binary, voice);
  const dir = await mkdtemp(join(o.tempRoot ?? tmpdir(), 'parley-flite-'));
  try {
    const wavPath = join(dir, 'speech.wav');
    // No shell; `-t` marks the next argv entry as literal text even if it starts with '-'.
    const { stderr } = await execFileAsync(binary, ['-voice', voice, '-t', clean, '-o', wavPath], {
      timeout: FLITE_TIMEOUT_MS,
      killSignal: 'SIGKILL',
    });
    // A voice file that fails to load also falls back silently, but at least says so on stderr.
    if (stderr.includes('Error load voice')) throw new Error(`flite: ${stderr.trim()}`);
    const wav = parseWav(await readFile(wavPath));
    return resample(wav.samples, wav.sampleRateHz, sampleRateHz);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
