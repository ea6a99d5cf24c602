/**
 * Audio of the sentences an agent says again and again — its greeting, "Are you still there?",
 * fillers — synthesised once per voice and kept in memory, so the first audio of a call leaves as
 * soon as the stream starts instead of after a TTS round trip. Bounded by bytes (oldest out first).
 */
import { createHash } from 'node:crypto';
import type { AudioFrame } from '../audio/frame.js';
import type { CallOptions, TtsProvider } from '../providers/types.js';
import { iterate } from './channel.js';
import { SentenceSplitter } from './sentences.js';

/** 32 MiB ≈ 12 minutes of 22 kHz audio: every greeting of hundreds of agents. */
export const PHRASE_CACHE_MAX_BYTES = 32 * 1024 * 1024;

export class PhraseCache {
  private readonly entries = new Map<string, readonly AudioFrame[]>();
  private bytes = 0;
  hits = 0;
  misses = 0;

  constructor(private readonly maxBytes = PHRASE_CACHE_MAX_BYTES) {}

  get(key: string): readonly AudioFrame[] | undefined {
    const frames = this.entries.get(key);
    if (frames) {
      // Refresh its place: the map's order is the eviction order.
      this.entries.delete(key);
      this.entries.set(key, frames);
      this.hits++;
    } else this.misses++;
    return frames;
  }

  set(key: string, frames: readonly AudioFrame[]): void {
    const size = frames.reduce((n, f) => n + f.samples.byteLength, 0);
    if (size > this.maxBytes) return;
    const prior = this.entries.get(key);
    if (prior) {
      this.entries.delete(key);
      this.bytes -= prior.reduce((n, f) => n + f.samples.byteLength, 0);
    }
    this.entries.set(key, frames);
    this.bytes += size;
    for (const [k, v] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.entries.delete(k);
      this.bytes -= v.reduce((n, f) => n + f.samples.byteLength, 0);
    }
  }

  get sizeBytes(): number {
    return this.bytes;
  }
}

/** Identifies a voice (the agent's TTS chain) without keeping its credentials in the key. */
export function voiceKey(ttsChain: unknown): string {
  return createHash('sha256').update(JSON.stringify(ttsChain)).digest('hex').slice(0, 32);
}

/** The sentences a reply of `text` is spoken as (the same splitting AgentReply does). */
export function sentencesOf(text: string): string[] {
  const s = new SentenceSplitter();
  return [...s.push(text), ...s.flush()];
}

/**
 * A TTS that answers cacheable sentences from the cache and stores them after their first
 * synthesis. Other text goes straight through. A synthesis cut short (barge-in) is not stored.
 */
export class CachingTts implements TtsProvider {
  readonly name: string;
  readonly sampleRateHz: number;

  constructor(
    private readonly inner: TtsProvider,
    private readonly cache: PhraseCache,
    private readonly voice: string,
    private readonly cacheable: ReadonlySet<string>,
  ) {
    this.name = inner.name;
    this.sampleRateHz = inner.sampleRateHz;
  }

  prepare(): void {
    this.inner.prepare?.();
  }

  /** Releases the wrapped provider's per-call resources (an ElevenLabs socket); the cache stays. */
  close(): Promise<void> {
    return this.inner.close?.() ?? Promise.resolve();
  }

  async *synthesize(text: AsyncIterable<string>, o: CallOptions): AsyncIterable<AudioFrame> {
    let full = '';
    for await (const chunk of text) full += chunk;
    const key = `${this.voice}\u0000${full}`;
    const cached = this.cacheable.has(full) ? this.cache.get(key) : undefined;
    if (cached) {
      for (const f of cached) {
        if (o.signal.aborted) return;
        yield f;
      }
      return;
    }
    const frames: AudioFrame[] = [];
    for await (const f of this.inner.synthesize(iterate(full), o)) {
      if (this.cacheable.has(full)) frames.push(f);
      yield f;
    }
    if (!o.signal.aborted && frames.length > 0) this.cache.set(key, frames);
  }
}
