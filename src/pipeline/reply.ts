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
 * TTS work at once; the playout tracker then says what the caller heard. Holding (see `hold`) stops
 * only the speaking, while the agent's words keep coming for a possible resumption.
 */
export class AgentReply {
  readonly abort = new AbortController();
  /** Stops the TTS only (hold); `abort` stops it too. */
  private readonly speech = new AbortController();
  private readonly speechSignal = AbortSignal.any([this.abort.signal, this.speech.signal]);
  /** Set by `hold`: the words and tool calls not spoken, in order, as they come. */
  private held: Channel<LlmDelta> | undefined;
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
        if (this.held) {
          this.held.push({ kind: 'text', text: `${sentence} ` });
          continue;
        }
        try {
          await this.speakSentence(sentence, hooks);
        } catch (err) {
          if (!this.held) throw err; // a TTS stopped by hold() may end either way
        }
      }
    };
    try {
      await Promise.all([produceText(), speak()]);
    } catch (err) {
      this.held?.close();
      if (this.signal.aborted) return;
      this.phase = 'failed';
      this.abort.abort();
      throw err;
    }
    if (this.held) {
      for (const call of this.toolCalls) this.held.push({ kind: 'tool_call', call });
      this.held.close();
      return;
    }
    if (!this.signal.aborted) this.productionDone = true;
  }

  /**
   * Stops speaking at once (the caller talked over the reply) but lets the agent finish its words:
   * returns the sentences not yet begun and those still to come, then the tool calls, ending when the
   * agent is done (early if the reply is aborted or fails). The sentence being spoken, and any queued
   * before it, are the tracker's (see `heardText`). A held reply never counts as produced: whoever
   * resumes it runs its tool calls. Call once; `run` must have been called.
   */
  hold(): AsyncIterable<LlmDelta> {
    if (this.held) throw new Error('reply already held');
    const held = new Channel<LlmDelta>(4096);
    this.held = held;
    this.speech.abort();
    if (this.productionDone) {
      this.productionDone = false;
      for (const call of this.toolCalls) held.push({ kind: 'tool_call', call });
      held.close();
    } else if (this.signal.aborted) held.close();
    else this.abort.signal.addEventListener('abort', () => held.close(), { once: true });
    return held;
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
    for await (const frame of this.tts.synthesize(iterate(sentence), { signal: this.speechSignal })) {
      if (this.speechSignal.aborted) return;
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
    if (this.speechSignal.aborted) return;
    const mark = `${this.id}.${this.sentenceSeq++}`;
    this.tracker.endSegment(mark);
    this.transport.mark(mark);
  }
}
