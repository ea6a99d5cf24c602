import { frameDurationMs } from '../audio/frame.js';
import type { LlmDelta, ToolCall, TtsProvider } from '../providers/types.js';
import type { MediaTransport } from '../transports/types.js';
import { Channel, iterate } from './channel.js';
import { PlayoutTracker } from './playout-tracker.js';
import { SentenceSplitter } from './sentences.js';

export type ReplyPhase = 'thinking' | 'speaking' | 'done' | 'interrupted' | 'failed';

/** Wall-clock (performance.now) milestones of one reply; stage latencies derive from them. */
export interface ReplyTimings {
  startedAtMs: number;
  firstTokenAtMs?: number;
  firstSentenceAtMs?: number;
  firstAudioAtMs?: number;
  /** Total time the TTS took from a sentence to its first audio, for the first sentence. */
  ttsFirstAudioMs?: number;
}

export interface ReplyHooks {
  /** The first audio of this reply was handed to the transport. */
  onFirstAudio(atMs: number): void;
  /** A sentence is about to be synthesised (TTS usage). */
  onSentence?(text: string): void;
}

/**
 * One agent reply: streams text from the agent, cuts it into sentences, speaks each through TTS
 * into the transport with a mark after it, and collects tool calls. Aborting stops the LLM and
 * TTS work at once; the playout tracker then says what the caller heard.
 */
export class AgentReply {
  readonly abort = new AbortController();
  readonly tracker = new PlayoutTracker();
  readonly toolCalls: ToolCall[] = [];
  readonly timings: ReplyTimings;
  phase: ReplyPhase = 'thinking';
  /** All text and audio has been produced and queued. */
  productionDone = false;
  private sentenceSeq = 0;

  constructor(
    readonly id: string,
    private readonly tts: TtsProvider,
    private readonly transport: MediaTransport,
    private readonly now: () => number,
  ) {
    this.timings = { startedAtMs: now() };
  }

  get signal(): AbortSignal {
    return this.abort.signal;
  }

  /** Marks of this reply are named `<replyId>.<n>`. */
  ownsMark(name: string): boolean {
    return name.startsWith(`${this.id}.`);
  }

  /** Runs the reply to the end of production. Rejects on provider failure (not on abort). */
  async run(source: AsyncIterable<LlmDelta>, hooks: ReplyHooks): Promise<void> {
    const sentences = new Channel<string>(256);
    const produceText = async (): Promise<void> => {
      const splitter = new SentenceSplitter();
      try {
        for await (const delta of source) {
          if (this.signal.aborted) return;
          switch (delta.kind) {
            case 'text':
              if (delta.text.length === 0) break;
              this.timings.firstTokenAtMs ??= this.now();
              for (const s of splitter.push(delta.text)) this.queueSentence(sentences, s);
              break;
            case 'tool_call':
              this.timings.firstTokenAtMs ??= this.now();
              this.toolCalls.push(delta.call);
              break;
            default:
              // Other kinds (token usage) carry nothing to say; the session meters them upstream.
              break;
          }
        }
        for (const s of splitter.flush()) this.queueSentence(sentences, s);
      } finally {
        sentences.close();
      }
    };
    const speak = async (): Promise<void> => {
      for await (const sentence of sentences) {
        if (this.signal.aborted) return;
        await this.speakSentence(sentence, hooks);
      }
    };
    try {
      await Promise.all([produceText(), speak()]);
    } catch (err) {
      if (this.signal.aborted) return;
      this.phase = 'failed';
      this.abort.abort();
      throw err;
    }
    if (!this.signal.aborted) this.productionDone = true;
  }

  private queueSentence(ch: Channel<string>, sentence: string): void {
    this.timings.firstSentenceAtMs ??= this.now();
    ch.push(sentence);
  }

  private async speakSentence(sentence: string, hooks: ReplyHooks): Promise<void> {
    const sentAtMs = this.now();
    let first = true;
    hooks.onSentence?.(sentence);
    this.tracker.beginSegment(sentence);
    for await (const frame of this.tts.synthesize(iterate(sentence), { signal: this.signal })) {
      if (this.signal.aborted) return;
      if (first) {
        first = false;
        const atMs = this.now();
        if (this.timings.firstAudioAtMs === undefined) {
          this.timings.firstAudioAtMs = atMs;
          this.timings.ttsFirstAudioMs = atMs - sentAtMs;
          this.phase = 'speaking';
          hooks.onFirstAudio(atMs);
        }
      }
      this.transport.play(frame);
      this.tracker.addQueuedAudio(frameDurationMs(frame));
    }
    if (this.signal.aborted) return;
    const mark = `${this.id}.${this.sentenceSeq++}`;
    this.tracker.endSegment(mark);
    this.transport.mark(mark);
  }
}
