// Shared by the VoiceSession tests: caller audio the energy VAD hears as speech or silence, and an
// STT that answers from a script.
import { type AudioFrame, audioFrame } from '../audio/frame.js';
import type { SttProvider, TranscriptEvent } from '../providers/types.js';

export const RATE = 8000;
const FRAME = 160;

/** 20 ms of a 440 Hz tone (speech to the VAD) or of very low noise (silence); `n` keeps the tone's phase. */
export function frame(voiced: boolean, n: number): AudioFrame {
  const s = new Int16Array(FRAME);
  for (let i = 0; i < FRAME; i++) s[i] = voiced ? Math.round(8000 * Math.sin((2 * Math.PI * 440 * (n * FRAME + i)) / RATE)) : ((i * 7919) % 11) - 5;
  return audioFrame(s, RATE);
}

/** STT that answers each utterance with the next scripted text, after consuming all its audio. */
export class ScriptedStt implements SttProvider {
  readonly name = 'scripted';
  constructor(private readonly texts: string[]) {}
  async *transcribe(audio: AsyncIterable<AudioFrame>): AsyncIterable<TranscriptEvent> {
    for await (const _ of audio);
    yield { kind: 'final', text: this.texts.shift() ?? '' };
  }
  async close(): Promise<void> {}
}

/**
 * STT that, per utterance, shows a partial transcript after its first 100 ms of audio (several:
 * one more every further 100 ms) and gives the final `finalDelayMs` after the audio ends (a
 * recogniser still finishing when the turn ends).
 */
export class PartialThenFinalStt implements SttProvider {
  readonly name = 'partial-then-final';
  constructor(private readonly script: { partial: string | string[]; final: string; finalDelayMs: number }[]) {}
  async *transcribe(audio: AsyncIterable<AudioFrame>): AsyncIterable<TranscriptEvent> {
    const next = this.script.shift() ?? { partial: '', final: '', finalDelayMs: 0 };
    const partials = (Array.isArray(next.partial) ? next.partial : [next.partial]).filter((p) => p !== '');
    let frames = 0;
    for await (const _ of audio) {
      const due = ++frames % 5 === 0 ? partials[frames / 5 - 1] : undefined;
      if (due !== undefined) yield { kind: 'partial', text: due };
    }
    await new Promise((r) => setTimeout(r, next.finalDelayMs));
    yield { kind: 'final', text: next.final };
  }
  async close(): Promise<void> {}
}
