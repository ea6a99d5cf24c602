import { dtmfTones } from '../audio/dtmf.js';
import { EchoSuppressor } from '../audio/echo-suppressor.js';
import type { AudioFrame } from '../audio/frame.js';
import { audioFrame, frameDurationMs } from '../audio/frame.js';
import { keypadMessage } from '../agents/keypad.js';
import type { VoiceActivityDetector } from '../audio/vad.js';
import { type Metrics, observeTurnLatency } from '../observability/metrics.js';
import { flowTransferDestinations } from '../agents/flow/schema.js';
import type { ChatMessage, LlmDelta, LlmProvider, SttProvider, ToolCall, ToolSpec, TtsProvider } from '../providers/types.js';
import type { TurnLatency } from '../store/store.js';
import type { AgentConfig } from '../tenants/schema.js';
import type { MediaHandler, MediaTransport } from '../transports/types.js';
import type { CallRecorder } from './call-recorder.js';
import { Channel, iterate } from './channel.js';
import type { AgentTool, ToolCallContext, ToolResult } from '../tools/types.js';
import { type CallControl, CONTROL_TOOLS, TRANSFER_FAILED_REPLY, llmAgentTools, runControlTools, runDataTools, type ToolHost, TransferPolicy } from './agent-tools.js';
import { AgentReply } from './reply.js';
import { isBackchannel, isEchoOf, remainderAfter, settledWords, wordsBeyondBackchannels } from './backchannel.js';
import { PrefetchingTts } from './prefetching-tts.js';
import { PreRoll } from './pre-roll.js';
import { SentenceSplitter } from './sentences.js';
import { classifyCompleteness } from './turn-completeness.js';
import { answerLatency, type UserTurnTiming } from './turn-latency.js';
import { type TurnEvent, TurnTaking } from './turn-taking.js';

/** Audio kept from before speech onset so STT hears the first syllable the VAD needed to notice. */
export const PRE_ROLL_MS = 300;
/** Said once when the caller has been silent for half of maxSilenceMs. */
const STILL_THERE_PROMPT = 'Are you still there?';
const SILENCE_GOODBYE = "I haven't heard anything, so I'll end the call now. Goodbye.";
const MAX_DURATION_GOODBYE = 'This call has reached its time limit. Goodbye.';

/** Everything an agent says word for word (not from its model): worth synthesising once and caching. */
export function fixedPhrases(agent: AgentConfig): string[] {
  return [agent.greeting, STILL_THERE_PROMPT, SILENCE_GOODBYE, MAX_DURATION_GOODBYE, TRANSFER_FAILED_REPLY, ...agent.filler.phrases];
}

export interface SessionLog {
  info(obj: Record<string, unknown>, msg: string): void;
  warn(obj: Record<string, unknown>, msg: string): void;
  error(obj: Record<string, unknown>, msg: string): void;
}

/** The agent's enabled tools (beyond end_call / transfer_call) and how to run them in this call. */
export interface SessionTools {
  readonly byName: ReadonlyMap<string, AgentTool>;
  /** The call's identity for tools; the session adds the signal and call actions. */
  readonly context: Omit<ToolCallContext, 'signal' | 'call'>;
  run(tool: AgentTool, args: Record<string, unknown>, ctx: ToolCallContext): Promise<ToolResult>;
}

/** Where the session counts what the call consumed in speech (LLM requests are metered by the provider wrapper). */
export interface SpeechUsageMeter {
  addSttAudioMs(ms: number): void;
  addTtsCharacters(n: number): void;
}

export interface VoiceSessionDeps {
  readonly transport: MediaTransport;
  readonly stt: SttProvider;
  readonly llm: LlmProvider;
  readonly tts: TtsProvider;
  readonly vad: VoiceActivityDetector;
  readonly agent: AgentConfig;
  readonly recorder: CallRecorder;
  readonly metrics: Metrics;
  readonly log: SessionLog;
  readonly callControl: CallControl;
  readonly tools?: SessionTools;
  readonly meter?: SpeechUsageMeter;
  /** Every tool call with its outcome (tenant webhooks). */
  readonly onToolCalled?: ToolHost['toolCalled'];
  /** Called once when the call has ended and its record is closed. */
  readonly onEnded?: (reason: string, status: 'completed' | 'failed') => void;
  readonly now?: () => number;
}

interface Utterance {
  readonly audio: Channel<AudioFrame>;
  readonly abort: AbortController;
  discarded: boolean;
  /** Latest partial transcript. */
  partial: string;
  /** Media time (the turn detector's clock) of its first voiced frame. */
  readonly startedAtMediaMs: number;
  /**
   * It interrupted the agent and its partial words were a backchannel at turn end, so the agent went
   * on without waiting for the final transcript: the interrupted reply's whole planned text (to tell
   * the agent's own echo from more words when the final comes).
   */
  resumedOnPartial?: { readonly planned: string };
  /**
   * Said over the agent, which talked on (endpointing.interruptMinWords), and the agent was still
   * speaking when it ended: the reply's planned text then (to tell its own echo from words).
   */
  overAgent?: { readonly planned: string };
  /** Wall times (performance.now) filled in at turn end. */
  lastSpeechAtMs?: number;
  turnEndAtMs?: number;
  /** Media time of the end of its last voiced frame, filled in at turn end. */
  lastSpeechAtMediaMs?: number;
}

/** The user turn a reply answers, with the timings voice-to-voice latency is measured from. */
interface ReplyCause extends UserTurnTiming {
  readonly userTurnId: string;
  readonly text: string;
  /** Media time at which the caller stopped talking (see endpointing.continuationWindowMs); absent for keypad turns. */
  readonly callerStoppedAtMediaMs?: number;
}

interface ActiveReply {
  readonly reply: AgentReply;
  readonly turnKind: 'greeting' | 'answer' | 'prompt' | 'filler';
  readonly cause?: ReplyCause;
  /** End the call with this reason once the reply has been heard. */
  hangupReason?: string;
  agentTurnId?: string;
  /** Data tools of this reply, started as soon as the model finished asking for them. */
  tools?: { readonly calls: ToolCall[]; readonly startedAtMs: number; readonly results: Promise<ChatMessage[]> };
  /** A filler's continuation: runs once the filler has been heard. */
  afterHeard?: () => void;
}

/** A reply cut off by the caller, kept until their words show whether they meant to interrupt. */
interface Suspended {
  readonly turnKind: ActiveReply['turnKind'];
  /** The held reply: its agent is still producing the words the caller has not heard yet. */
  readonly reply: AgentReply;
  /** What the caller has not heard of the sentences already begun. */
  readonly remainder: string;
  /** The rest of the agent's words and its tool calls, as they come (see AgentReply.hold). */
  readonly rest: AsyncIterable<LlmDelta>;
  /** The whole reply as planned so far (to recognise it coming back as echo). */
  readonly planned: string;
  readonly hangupReason?: string;
  /** The utterance that interrupted. */
  readonly utterance: Utterance | undefined;
  readonly timer: NodeJS.Timeout;
  /** The history entry holding what the caller heard of the reply (absent when nothing was heard). */
  readonly heardMessage: ChatMessage | undefined;
  /** Data tools the reply had already started (they ran once; a resumed reply awaits their results). */
  readonly tools: ActiveReply['tools'];
  /** The user turn the reply answered, if it was an answer. */
  readonly cause: ReplyCause | undefined;
  /** The interrupting utterance may still be a backchannel: its turn ends after backchannelSilenceMs. */
  quickTurnEnd: boolean;
}

/** Longest unsaid text quoted in the history note of an interrupted reply. */
const MAX_UNSAID_NOTE_CHARS = 400;

/** Speech longer than this (voiced ms) is not a backchannel, whatever the words so far. */
const MAX_BACKCHANNEL_SPEECH_MS = 900;

/**
 * The first sentence a resumed reply speaks (see resumedDeltas), as its SentenceSplitter will cut
 * it; undefined when that depends on words still to come (a short or unfinished remainder).
 */
function firstResumedSentence(remainder: string, moreToCome: boolean): string | undefined {
  if (remainder === '') return undefined;
  const splitter = new SentenceSplitter();
  return splitter.push(`${remainder} `)[0] ?? (moreToCome ? undefined : splitter.flush()[0]);
}

/** A resumed reply's words: the rest of the sentence it stopped in, then what the agent said after. */
async function* resumedDeltas(remainder: string, rest: AsyncIterable<LlmDelta>): AsyncIterable<LlmDelta> {
  if (remainder) yield { kind: 'text', text: `${remainder} ` };
  yield* rest;
}

/**
 * Wires one call's stages: transport audio → VAD → turn-taking → STT → agent → TTS → transport.
 * It decides nothing about audio formats or vendors; it only routes events and keeps the record.
 */
export class VoiceSession implements MediaHandler {
  private readonly d: VoiceSessionDeps;
  private readonly now: () => number;
  private readonly turns: TurnTaking;
  /** The call's TTS; it also synthesises the rest of an interrupted sentence while the interruption is judged. */
  private readonly tts: PrefetchingTts;
  private readonly preRoll = new PreRoll(PRE_ROLL_MS);
  private utterance: Utterance | undefined;
  private sttChain: Promise<void> = Promise.resolve();
  private active: ActiveReply | undefined;
  private replySeq = 0;
  private readonly history: ChatMessage[] = [];
  /** A user turn whose reply was abandoned because the caller went on talking; merged into the next. */
  private continuation: ReplyCause | undefined;
  private ended = false;
  private silenceTimer: NodeJS.Timeout | undefined;
  private promptedStillThere = false;
  private readonly durationTimer: NodeJS.Timeout;
  private readonly toolHost: ToolHost;
  private readonly tools: ToolSpec[];
  private readonly startedAtMs: number;
  /** Counts user turns: a tool continuation is dropped when the caller has moved on. */
  private userEpoch = 0;
  private keypad: { digits: string; timer: NodeJS.Timeout | undefined } = { digits: '', timer: undefined };
  private readonly callAbort = new AbortController();
  private suspended: Suspended | undefined;
  /**
   * Caller speech the agent is talking through until its words (or its length) show it is an
   * interruption: endpointing.interruptMinWords ≥ 1. Its utterance.
   */
  private unconfirmed: Utterance | undefined;
  /** Results of an interrupted reply's tools on their way into the history (see fileInterruptedTools). */
  private toolResultsFiling: Promise<void> | undefined;
  /** Removes the agent's own voice (speakerphone echo) from the caller's audio before voice detection. */
  private readonly echo: EchoSuppressor | undefined;

  constructor(deps: VoiceSessionDeps) {
    this.d = deps;
    this.now = deps.now ?? (() => performance.now());
    this.startedAtMs = this.now();
    this.echo = deps.agent.echoSuppression ? new EchoSuppressor({ sampleRateHz: deps.transport.sampleRateHz }) : undefined;
    const e = deps.agent.endpointing;
    this.tts = new PrefetchingTts(deps.tts, (characters) => this.d.meter?.addTtsCharacters(characters));
    this.turns = new TurnTaking({ silenceMs: e.silenceMs, minSpeechMs: e.minSpeechMs, bargeInMs: e.bargeInMs, bargeIn: e.bargeIn });
    if (deps.agent.systemPrompt) this.history.push({ role: 'system', content: deps.agent.systemPrompt });
    this.durationTimer = setTimeout(() => this.hangupAfter('max_duration', MAX_DURATION_GOODBYE), deps.agent.maxDurationMs);
    this.durationTimer.unref();
    const targets = deps.agent.transferTargets ?? {};
    this.tools = llmAgentTools(targets, [...(deps.tools?.byName.values() ?? [])].map((t) => t.spec));
    this.toolHost = {
      recorder: deps.recorder,
      callControl: deps.callControl,
      transfers: new TransferPolicy(targets, flowTransferDestinations(deps.agent.flow)),
      log: deps.log,
      hangup: (reason) => this.endCall(reason),
      say: (text) => this.say('prompt', text),
      briefing: () => this.briefingFromHistory(),
      ...(deps.onToolCalled ? { toolCalled: deps.onToolCalled } : {}),
    };
  }

  /** Plays the greeting; called once the stream is live. */
  onStart(): void {
    this.say('greeting', this.d.agent.greeting);
    // The caller's first words should not wait for an STT connection or decoder, nor the first reply for
    // a TTS connection: ready them now, while the greeting plays (usually from the phrase cache).
    this.d.stt.prepare?.(this.d.transport.sampleRateHz);
    this.tts.prepare();
    this.d.llm.prepare?.();
  }

  // ---------- inbound audio ----------

  onAudio(frame: AudioFrame, receivedAtMs: number): void {
    if (this.ended) return;
    const frameMs = frameDurationMs(frame);
    // Voice detection hears the caller without the agent's echo; STT, pre-roll and recordings keep
    // the raw audio so the gate never cuts the caller's words.
    const heard = this.echo ? this.echo.process(frame.samples, receivedAtMs).samples : frame.samples;
    const probability = this.d.vad.process(heard);
    const events = this.turns.push(probability, frameMs, this.agentIsSpeaking());
    for (const ev of events) this.onTurnEvent(ev, receivedAtMs);
    // Talking on past a backchannel's length: judge the utterance by the usual endpointing again.
    if (this.suspended?.quickTurnEnd && this.turns.speechMs > MAX_BACKCHANNEL_SPEECH_MS) this.adaptEndpointing(this.utterance?.partial ?? '');
    // Longer than any backchannel: an interruption, whatever the words (or a slow STT) say.
    if (this.unconfirmed !== undefined && this.unconfirmed === this.utterance && this.turns.speechMs > MAX_BACKCHANNEL_SPEECH_MS) {
      this.confirmInterruption(receivedAtMs, 'speech_length');
    }
    if (this.utterance) {
      this.utterance.audio.push(frame);
      this.d.meter?.addSttAudioMs(frameMs);
    }
    this.preRoll.push(frame);
  }

  private onTurnEvent(ev: TurnEvent, receivedAtMs: number): void {
    switch (ev.kind) {
      case 'speech_start':
        this.openUtterance(ev.atMs);
        this.readyForReply();
        return;
      case 'speech_confirmed':
        this.clearSilenceTimer();
        // The caller went on talking before the agent said anything: drop that reply and
        // answer the whole thought once the caller is done.
        if (this.active?.turnKind === 'answer' && this.active.reply.phase === 'thinking') this.abandonThinkingReply();
        return;
      case 'barge_in':
        if (this.d.agent.endpointing.interruptMinWords > 0 && this.utterance) {
          // Talk on: the caller's words decide (see transcribe), or the length of their speech.
          this.unconfirmed = this.utterance;
          if (this.interruptsAgent(settledWords(this.utterance.partial), this.plannedText())) this.confirmInterruption(receivedAtMs, 'words');
          return;
        }
        this.interrupt(receivedAtMs);
        return;
      case 'speech_discarded':
        if (this.unconfirmed === this.utterance) this.unconfirmed = undefined;
        if (this.utterance) {
          this.utterance.discarded = true;
          this.utterance.abort.abort();
          this.utterance.audio.close();
          this.utterance = undefined;
        }
        return;
      case 'turn_end': {
        const u = this.utterance;
        if (!u) return;
        u.lastSpeechAtMs = receivedAtMs - (this.turns.nowMs - ev.lastSpeechAtMs);
        u.turnEndAtMs = receivedAtMs;
        u.lastSpeechAtMediaMs = ev.lastSpeechAtMs;
        if (this.unconfirmed === u) {
          // The caller stopped: the last word of the partial is now said, and counts.
          if (this.interruptsAgent(u.partial, this.plannedText())) this.confirmInterruption(receivedAtMs, 'words');
          else if (this.agentIsSpeaking()) u.overAgent = { planned: this.plannedText() };
        }
        u.audio.close();
        this.utterance = undefined;
        // Again at the turn end: a long turn may have outlasted what was readied at its start.
        this.readyForReply();
        // Only a backchannel so far ("okay", short): go on now, not a final transcript later (that
        // can take a few hundred ms); should the final show more words, they are answered then.
        const s = this.suspended;
        if (s?.utterance === u && s.quickTurnEnd && u.partial !== '' && isBackchannel(u.partial, this.d.agent.endpointing.backchannels)) {
          u.resumedOnPartial = { planned: s.planned };
          this.resume('backchannel', u.partial, 'partial');
        }
        return;
      }
      default: {
        const unreachable: never = ev;
        throw new Error(`unknown turn event ${JSON.stringify(unreachable)}`);
      }
    }
  }

  /**
   * Readies the LLM and TTS connections a reply will need. A TTS socket or a pooled LLM connection
   * left idle (the caller listened or thought for a while) is closed after its idle period (15 s; a
   * preconnected LLM socket after 4 s); reopened while the caller talks, the reply does not wait for
   * the handshakes. Cheap when they are open.
   */
  private readyForReply(): void {
    this.tts.prepare();
    this.d.llm.prepare?.();
  }

  private openUtterance(atMediaMs: number): void {
    if (this.utterance) return;
    const u: Utterance = { audio: new Channel<AudioFrame>(4096), abort: new AbortController(), discarded: false, partial: '', startedAtMediaMs: atMediaMs };
    const preRoll = this.preRoll.frame();
    if (preRoll) u.audio.push(preRoll);
    this.d.meter?.addSttAudioMs(this.preRoll.ms);
    this.utterance = u;
    // One decoder per call: utterances are transcribed one after another.
    this.sttChain = this.sttChain.then(() => this.transcribe(u));
  }

  private async transcribe(u: Utterance): Promise<void> {
    let finalText = '';
    let finalAtMs = 0;
    /** The agent talked through this utterance and its partial words never made it an interruption. */
    let talkedThrough = false;
    try {
      for await (const ev of this.d.stt.transcribe(u.audio, { signal: u.abort.signal })) {
        if (ev.kind === 'partial') {
          u.partial = ev.text;
          if (this.unconfirmed === u && this.interruptsAgent(this.utterance === u ? settledWords(ev.text) : ev.text, this.plannedText())) this.confirmInterruption(this.now(), 'words');
          if (this.utterance === u) this.adaptEndpointing(ev.text);
        } else if (ev.kind === 'final') {
          finalText = ev.text.trim();
          finalAtMs = this.now();
        }
      }
    } catch (err) {
      if (u.abort.signal.aborted || this.ended) return;
      this.d.log.warn({ callId: this.d.recorder.callId, err: (err as Error).message }, 'speech recognition failed');
      this.d.recorder.event('stt.error', { message: (err as Error).message });
      return;
    } finally {
      if (this.unconfirmed === u) {
        this.unconfirmed = undefined;
        talkedThrough = true;
      }
    }
    if (u.discarded || this.ended || u.turnEndAtMs === undefined || u.lastSpeechAtMs === undefined) return;
    if (talkedThrough) {
      // Said wholly over the agent, which went on: unless the final shows words enough, it was not for answering.
      const ignored = u.overAgent ? this.notAnInterruption(finalText, u.overAgent.planned) : undefined;
      if (ignored) {
        this.d.recorder.event('speech_over_agent.ignored', { reason: ignored, said: finalText });
        this.d.metrics.speechOverAgentIgnoredTotal.inc({ reason: ignored });
        return;
      }
      // Words the partials did not show in time: stop if still talking, and answer them.
      if (this.agentIsSpeaking()) this.interrupt(this.now(), false);
    }
    if (u.resumedOnPartial) {
      const e = this.d.agent.endpointing;
      if (finalText === '' || isBackchannel(finalText, e.backchannels) || (this.d.agent.echoSuppression && isEchoOf(finalText, u.resumedOnPartial.planned))) return;
      // The partial words were behind: the caller said more than "okay". Stop the resumed reply and answer.
      this.d.recorder.event('barge_in.resume_withdrawn', { said: finalText });
      this.interrupt(this.now(), false);
    } else if (this.suspended?.utterance === u) {
      // The words that interrupted the agent decide: a backchannel or nothing → carry on.
      if (finalText === '' || isBackchannel(finalText, this.d.agent.endpointing.backchannels)) {
        this.resume(finalText === '' ? 'no_words' : 'backchannel', finalText);
        return;
      }
      if (this.d.agent.echoSuppression && isEchoOf(finalText, this.suspended.planned)) {
        // The agent's own voice got past the echo gate: never answer it, carry on instead.
        this.resume('echo', finalText);
        return;
      }
      if (this.continuesAnsweredTurn(this.suspended, u)) this.dropFalseStart(this.suspended);
      else this.dropSuspended();
    }
    this.onUserTurn(finalText, u.lastSpeechAtMs, u.turnEndAtMs, finalAtMs, u.lastSpeechAtMediaMs ?? this.turns.nowMs);
  }

  /**
   * Endpointing that reads the words: a short silence while what interrupted the agent may be a
   * backchannel, longer for unfinished thoughts, shorter for finished ones.
   */
  private adaptEndpointing(text: string): void {
    const e = this.d.agent.endpointing;
    const s = this.suspended;
    if (s && s.utterance === this.utterance) {
      s.quickTurnEnd = this.turns.speechMs <= MAX_BACKCHANNEL_SPEECH_MS && (text === '' || isBackchannel(text, e.backchannels));
      if (s.quickTurnEnd) {
        this.turns.setTurnSilenceMs(e.backchannelSilenceMs);
        return;
      }
    }
    if (!e.adaptive) {
      this.turns.setTurnSilenceMs(undefined);
      return;
    }
    const c = classifyCompleteness(text);
    this.turns.setTurnSilenceMs(c === 'complete' ? Math.min(e.completeSilenceMs, e.silenceMs) : c === 'incomplete' ? Math.max(e.incompleteSilenceMs, e.silenceMs) : undefined);
  }

  /**
   * Speaks what an interruption cut off, from where it stopped (the caller only said "uh-huh", or
   * nothing): the rest of the sentence that was playing, then the agent's words that followed, which
   * it went on producing meanwhile, and its tool calls.
   */
  private resume(reason: 'backchannel' | 'no_words' | 'echo', said: string, decidedOn: 'partial' | 'final' = 'final'): void {
    const s = this.suspended;
    this.dropSuspended(false);
    if (!s) return;
    if (this.ended || this.active || this.turns.isSpeaking) {
      this.tts.cancel();
      s.reply.abort.abort();
      return;
    }
    this.d.recorder.event('barge_in.resumed', { reason, said, remainder: s.remainder, decidedOn });
    this.d.metrics.bargeInResumesTotal.inc({ reason, decided_on: decidedOn });
    this.speak(s.turnKind, (signal) => {
      // The new reply owns the held one from here: stopping it stops the held agent too.
      signal.addEventListener('abort', () => s.reply.abort.abort(), { once: true });
      return resumedDeltas(s.remainder, s.rest);
    });
    // speak() set a new active reply (TypeScript cannot see it through the call).
    const resumed = this.active as ActiveReply | undefined;
    if (resumed && s.hangupReason) resumed.hangupReason = s.hangupReason;
    // Tools already started are not run again: the resumed reply waits for their results instead.
    if (resumed && s.tools) resumed.tools = s.tools;
  }

  /**
   * Forgets the suspended reply. `abortHeld` (default): it will not be resumed — its agent is stopped,
   * and the history notes what it had not said yet, so the agent can come back to it after answering.
   */
  private dropSuspended(abortHeld = true): void {
    const s = this.suspended;
    if (!s) return;
    clearTimeout(s.timer);
    this.suspended = undefined;
    if (!abortHeld) return;
    this.tts.cancel();
    s.reply.abort.abort();
    const heard = s.remainder ? this.noteUnsaid(s.heardMessage, s.remainder) : s.heardMessage;
    if (s.tools) this.fileInterruptedTools(s.tools, heard);
  }

  /**
   * Marks the assistant message `heard` (or, if none, a new one) as interrupted before `unsaid`;
   * returns the message that now stands for the reply in the history.
   */
  private noteUnsaid(heard: ChatMessage | undefined, unsaid: string): ChatMessage {
    const clipped = unsaid.length > MAX_UNSAID_NOTE_CHARS ? `${unsaid.slice(0, MAX_UNSAID_NOTE_CHARS)}…` : unsaid;
    const note = `[interrupted by the caller; not said: "${clipped}"]`;
    return this.rewriteReplyMessage(heard, (found) => ({ role: 'assistant', content: found ? `${found.content} — ${note}` : note }));
  }

  /**
   * Replaces the history entry `current` of an interrupted reply (appends one if there is none) with
   * what `next` makes of it; returns the new entry.
   */
  private rewriteReplyMessage(current: ChatMessage | undefined, next: (found: ChatMessage | undefined) => ChatMessage): ChatMessage {
    const i = current ? this.history.lastIndexOf(current) : -1;
    const message = next(i >= 0 ? current : undefined);
    if (i >= 0) this.history[i] = message;
    else this.history.push(message);
    return message;
  }

  /**
   * Words that interrupted an answer within continuationWindowMs of the end of the turn it answers:
   * the caller was not finished ("do you have parking … for a large van"), whatever the endpointing
   * guessed. Not for replies that started tools (those ran) or that were to end the call.
   */
  private continuesAnsweredTurn(s: Suspended, u: Utterance): s is Suspended & { cause: ReplyCause } {
    const windowMs = this.d.agent.endpointing.continuationWindowMs;
    return windowMs > 0 && s.turnKind === 'answer' && s.cause?.callerStoppedAtMediaMs !== undefined && !s.tools && !s.hangupReason && u.startedAtMediaMs - s.cause.callerStoppedAtMediaMs <= windowMs;
  }

  /**
   * Drops an answer that started too soon: its model and TTS stop, and it leaves the history with the
   * user message it answered, which comes back merged with the words that follow (see onUserTurn).
   * The record keeps the few words the caller heard of it, marked interrupted.
   */
  private dropFalseStart(s: Suspended & { cause: ReplyCause }): void {
    this.dropSuspended(false);
    this.tts.cancel();
    s.reply.abort.abort();
    const heardAt = s.heardMessage ? this.history.lastIndexOf(s.heardMessage) : -1;
    if (heardAt >= 0) this.history.splice(heardAt, 1);
    const asked = this.history.at(-1);
    if (asked?.role === 'user' && asked.content === s.cause.text) this.history.pop();
    this.continuation = s.cause;
    this.d.recorder.event('reply.abandoned', { replyId: s.reply.id, reason: 'caller_continued', heardText: s.heardMessage?.content ?? '' });
    this.d.metrics.callerContinuedTotal.inc({ reply_phase: 'speaking' });
  }

  private onUserTurn(text: string, lastSpeechAtMs: number, turnEndAtMs: number, finalAtMs: number, stoppedAtMediaMs: number): void {
    const endpointingMs = turnEndAtMs - lastSpeechAtMs;
    const sttFinalMs = Math.max(0, finalAtMs - turnEndAtMs);
    const prior = this.continuation;
    this.continuation = undefined;
    if (text.length === 0) {
      // Noise, not words. If it interrupted a reply in the making, answer the earlier words now.
      if (prior) this.answer(prior);
      return;
    }
    this.d.metrics.turnsTotal.inc({ role: 'user', interrupted: 'false' });
    this.userEpoch++;
    const wallNow = Date.now();
    let cause: ReplyCause;
    if (prior) {
      const merged = `${prior.text} ${text}`;
      this.d.recorder.updateTurn(prior.userTurnId, { text: merged, endedAtMs: wallNow, latency: { endpointingMs, sttFinalMs } });
      cause = { userTurnId: prior.userTurnId, text: merged, lastSpeechAtMs, endpointingMs, sttFinalMs, callerStoppedAtMediaMs: stoppedAtMediaMs };
    } else {
      const startedAt = wallNow - Math.round(this.now() - lastSpeechAtMs);
      const id = this.d.recorder.startTurn('user', text, startedAt, { endpointingMs, sttFinalMs }, wallNow);
      cause = { userTurnId: id, text, lastSpeechAtMs, endpointingMs, sttFinalMs, callerStoppedAtMediaMs: stoppedAtMediaMs };
    }
    this.answer(cause);
  }

  private answer(cause: ReplyCause): void {
    this.dropSuspended();
    this.history.push({ role: 'user', content: cause.text });
    this.speak('answer', (signal) => this.askAgent(signal), cause);
  }

  /**
   * One request to the agent with the history so far — once the results of tools an interrupted
   * reply had started are in it (a tool call must be followed by its result in the history).
   */
  private askAgent(signal: AbortSignal): AsyncIterable<LlmDelta> {
    const ask = (): AsyncIterable<LlmDelta> => this.d.llm.complete({ messages: [...this.history], tools: this.tools }, { signal });
    const pending = this.toolResultsFiling;
    if (!pending) return ask();
    return (async function* () {
      await pending;
      if (signal.aborted) return;
      yield* ask();
    })();
  }

  /**
   * A reply that started data tools was cut off for good: its tools ran (their effects are real),
   * so the history says so — the heard message (or a new one) carries the tool calls, and their
   * results follow it as soon as they are in.
   */
  private fileInterruptedTools(run: NonNullable<ActiveReply['tools']>, heard: ChatMessage | undefined): void {
    const withCalls = this.rewriteReplyMessage(heard, (found) => ({ role: 'assistant', content: found?.content ?? '', toolCalls: run.calls }));
    const filing = run.results.then((results) => {
      const at = this.history.lastIndexOf(withCalls);
      if (at >= 0) this.history.splice(at + 1, 0, ...results);
    });
    const all = Promise.all([this.toolResultsFiling, filing]).then(() => undefined);
    this.toolResultsFiling = all;
    void all.then(() => {
      if (this.toolResultsFiling === all) this.toolResultsFiling = undefined;
    });
  }

  // ---------- replies ----------

  /** Starts a reply whose text comes from `source`, which must stop when given signal aborts. */
  private speak(turnKind: ActiveReply['turnKind'], source: (signal: AbortSignal) => AsyncIterable<LlmDelta>, cause?: ReplyCause): void {
    if (this.ended) return;
    this.stopActiveReply();
    const reply = new AgentReply(`r${this.replySeq++}`, this.tts, this.d.transport, this.now);
    const active: ActiveReply = { reply, turnKind, cause };
    this.active = active;
    reply
      .run(source(reply.signal), {
        onFirstAudio: (atMs) => this.onFirstAudio(active, atMs),
        onSentence: (text) => {
          this.d.meter?.addTtsCharacters(text.length);
        },
      })
      .then(() => this.afterProduction(active))
      .catch((err: unknown) => this.onReplyFailed(active, err));
  }

  /** Speaks fixed text (greeting, prompts) as a reply. */
  private say(turnKind: ActiveReply['turnKind'], text: string): void {
    this.speak(turnKind, () => iterate<LlmDelta>({ kind: 'text', text }));
  }

  private onFirstAudio(a: ActiveReply, atMs: number): void {
    const latency: TurnLatency = a.cause ? answerLatency(a.cause, a.reply.timings, atMs) : {};
    a.agentTurnId = this.d.recorder.startTurn('agent', '', Date.now(), latency);
    observeTurnLatency(this.d.metrics, latency);
  }

  onMark(name: string, atMs: number): void {
    const a = this.active;
    if (!a || !a.reply.ownsMark(name) || a.reply.phase === 'interrupted') return;
    const newly = a.reply.tracker.onMark(name, atMs);
    if (newly && newly.length > 0 && a.agentTurnId) {
      this.d.recorder.updateTurn(a.agentTurnId, { text: a.reply.tracker.heardText(a.reply.tracker.heardMs(atMs)) });
    }
    this.maybeFinishReply(a);
  }

  onAudioSent(durationMs: number, atMs: number, samples?: Int16Array): void {
    this.active?.reply.tracker.onAudioSent(durationMs, atMs);
    if (samples) this.echo?.reference(samples, atMs);
  }

  private afterProduction(a: ActiveReply): void {
    if (a.reply.productionDone && !this.ended && !a.tools) {
      // Data tools start now, while the caller still hears the words before them.
      const calls = a.reply.toolCalls.filter((c) => !CONTROL_TOOLS.has(c.name));
      if (calls.length > 0) a.tools = { calls, startedAtMs: this.now(), results: this.runTools(calls) };
    }
    if (a.reply.phase === 'thinking' && a.reply.productionDone) {
      // Produced no audio at all (empty reply or only tool calls).
      a.reply.phase = 'done';
    }
    this.maybeFinishReply(a);
  }

  private runTools(calls: ToolCall[]): Promise<ChatMessage[]> {
    const tools = this.d.tools;
    if (!tools) return runDataTools(calls, new Map(), this.toolContext(), this.toolHost, async () => ({ ok: false, error: 'no tools' }));
    return runDataTools(calls, tools.byName, this.toolContext(), this.toolHost, (tool, args, ctx) => tools.run(tool, args, ctx));
  }

  private toolContext(): ToolCallContext {
    const base = this.d.tools?.context;
    if (!base) throw new Error('tools are not configured for this call');
    return { ...base, signal: this.callAbort.signal, call: { sendDtmf: (digits) => this.sendDtmf(digits) } };
  }

  /** A reply is finished when all of it was produced and the caller heard all of it. */
  private maybeFinishReply(a: ActiveReply): void {
    const r = a.reply;
    if (!r.productionDone || r.phase === 'interrupted' || r.phase === 'failed') return;
    if (r.tracker.totalQueuedMs > 0 && !r.tracker.fullyPlayed) return;
    if (this.active !== a) return;
    r.phase = 'done';
    this.active = undefined;
    const text = r.tracker.fullText();
    if (a.agentTurnId) this.d.recorder.updateTurn(a.agentTurnId, { text, endedAtMs: Date.now(), interrupted: false });
    this.d.metrics.turnsTotal.inc({ role: 'agent', interrupted: 'false' });
    const control = r.toolCalls.filter((c) => CONTROL_TOOLS.has(c.name));
    if (a.tools) {
      // The assistant message and its tool results go into history together, once the results exist.
      this.awaitTools(a.tools, text, control);
      return;
    }
    if (text) this.history.push({ role: 'assistant', content: text });
    if (a.hangupReason) this.endCall(a.hangupReason);
    else if (control.length > 0) void runControlTools(control, this.toolHost);
    else if (a.afterHeard) a.afterHeard();
    else this.armSilenceTimer();
  }

  /**
   * Waits for a reply's data tools: says a filler if they take longer than the agent's filler
   * delay, then gives the results to the agent and speaks its answer — unless the caller has
   * spoken since (their new turn is answered instead, with the results in history).
   */
  private awaitTools(run: NonNullable<ActiveReply['tools']>, heardText: string, control: ToolCall[]): void {
    const epoch = this.userEpoch;
    const { afterMs, phrases } = this.d.agent.filler;
    let filler: ActiveReply | undefined;
    const fillerTimer = setTimeout(
      () => {
        if (this.ended || this.active || this.userEpoch !== epoch || this.turns.isSpeaking) return;
        const phrase = phrases[Math.floor(Math.random() * phrases.length)] ?? 'One moment, please.';
        this.d.recorder.event('tool.filler', { afterMs: Math.round(this.now() - run.startedAtMs), text: phrase });
        this.say('filler', phrase);
        filler = this.active;
      },
      Math.max(0, afterMs - (this.now() - run.startedAtMs)),
    );
    fillerTimer.unref();
    void run.results.then((results) => {
      clearTimeout(fillerTimer);
      this.history.push({ role: 'assistant', content: heardText, toolCalls: run.calls }, ...results);
      if (this.ended) return;
      if (control.length > 0) {
        void runControlTools(control, this.toolHost);
        return;
      }
      const proceed = (): void => {
        if (this.ended || this.userEpoch !== epoch || this.turns.isSpeaking) return;
        this.speak('answer', (signal) => this.askAgent(signal));
      };
      if (filler && this.active === filler) filler.afterHeard = proceed;
      else if (!this.active) proceed();
    });
  }

  /** Plays DTMF tones to the far end, after whatever is queued; resolves once they have played. */
  private sendDtmf(digits: string): Promise<void> {
    const rate = this.d.transport.sampleRateHz;
    const tones = dtmfTones(digits, rate);
    const step = Math.round(rate / 50);
    for (let i = 0; i < tones.length; i += step) this.d.transport.play(audioFrame(tones.slice(i, i + step), rate));
    this.d.recorder.event('dtmf.sent', { digits });
    return new Promise((resolve) => setTimeout(resolve, (tones.length * 1000) / rate).unref());
  }

  /** A warm-transfer briefing when the model wrote none: what the caller said, most recent last. */
  private briefingFromHistory(): string {
    const said = this.history.filter((m) => m.role === 'user').map((m) => m.content).slice(-3);
    return said.length > 0 ? `The caller said: ${said.join(' … ')}` : 'The caller asked to speak to someone.';
  }

  private onReplyFailed(a: ActiveReply, err: unknown): void {
    this.d.log.error({ callId: this.d.recorder.callId, err: (err as Error).message }, 'agent reply failed');
    this.d.recorder.event('reply.failed', { message: (err as Error).message });
    if (this.active === a) {
      this.active = undefined;
      if (a.agentTurnId) this.d.recorder.updateTurn(a.agentTurnId, { text: a.reply.tracker.fullText(), endedAtMs: Date.now() });
      this.armSilenceTimer();
    }
  }

  private agentIsSpeaking(): boolean {
    const a = this.active;
    return a !== undefined && a.reply.phase === 'speaking' && a.reply.tracker.hasUnplayedAudio();
  }

  /** The planned text of the reply being spoken ('' if none). */
  private plannedText(): string {
    return this.active?.reply.tracker.fullText() ?? '';
  }

  /** Whether caller words said over the agent interrupt it (endpointing.interruptMinWords ≥ 1). */
  private interruptsAgent(said: string, planned: string): boolean {
    return this.notAnInterruption(said, planned) === undefined;
  }

  /** Why words said over the agent do not interrupt it, if they do not. */
  private notAnInterruption(said: string, planned: string): 'no_words' | 'echo' | 'backchannel' | 'too_few_words' | undefined {
    const e = this.d.agent.endpointing;
    if (said.trim() === '') return 'no_words';
    if (this.d.agent.echoSuppression && isEchoOf(said, planned)) return 'echo';
    const words = wordsBeyondBackchannels(said, e.backchannels);
    return words >= e.interruptMinWords ? undefined : words === 0 ? 'backchannel' : 'too_few_words';
  }

  /** Caller speech the agent was talking through turned out to be an interruption. */
  private confirmInterruption(atMs: number, by: 'words' | 'speech_length'): void {
    const said = this.unconfirmed?.partial ?? '';
    this.unconfirmed = undefined;
    this.interrupt(atMs, true, { by, said });
  }

  /** Barge-in: stop talking now, keep only what the caller heard. */
  private interrupt(receivedAtMs: number, resumable = true, confirmed?: { by: 'words' | 'speech_length'; said: string }): void {
    const a = this.active;
    if (!a || a.reply.phase !== 'speaking') return;
    this.d.transport.clear();
    this.echo?.clearReference(receivedAtMs);
    const heardMs = a.reply.tracker.heardMs(receivedAtMs);
    const heard = a.reply.tracker.heardText(heardMs);
    a.reply.phase = 'interrupted';
    const planned = a.reply.tracker.fullText();
    const remainder = remainderAfter(planned, heard);
    // A resumable interruption holds the reply: speaking stops, the agent's words keep coming.
    const produced = a.reply.productionDone;
    const nothingLeft = produced && a.reply.toolCalls.length === 0 && !a.hangupReason && remainder === '';
    const rest = resumable && !nothingLeft ? a.reply.hold() : undefined;
    if (!rest) a.reply.abort.abort();
    this.active = undefined;
    if (a.agentTurnId) this.d.recorder.updateTurn(a.agentTurnId, { text: heard, endedAtMs: Date.now(), interrupted: true });
    const heardMessage: ChatMessage | undefined = heard ? { role: 'assistant', content: heard } : undefined;
    if (heardMessage) this.history.push(heardMessage);
    this.d.metrics.bargeInsTotal.inc();
    this.d.metrics.turnsTotal.inc({ role: 'agent', interrupted: 'true' });
    this.d.recorder.event('barge_in', { replyId: a.reply.id, heardMs: Math.round(heardMs), heardText: heard, plannedText: planned, ...(confirmed ? { confirmedBy: confirmed.by, said: confirmed.said } : {}) });
    if (rest) {
      this.suspend(a, { planned, remainder, rest, heardMessage });
      // A resumption starts with the rest of this sentence: have its audio ready by the time it is decided.
      const first = firstResumedSentence(remainder, !produced);
      if (first !== undefined) this.tts.prefetch(first);
    }
    else if (a.tools) this.fileInterruptedTools(a.tools, heardMessage);
  }

  /**
   * Keeps an interrupted reply's unheard rest for `resumeAfterMs`: if the interruption turns out to be
   * a backchannel or produces no words, the agent picks up where it stopped. Meanwhile the turn ends
   * after `backchannelSilenceMs` of silence, so that a short "uh-huh" is judged (and the agent goes on)
   * soon after the caller stops; words that are not a backchannel restore the usual endpointing.
   */
  private suspend(a: ActiveReply, held: Pick<Suspended, 'planned' | 'remainder' | 'rest' | 'heardMessage'>): void {
    this.dropSuspended();
    const utterance = this.utterance;
    const timer = setTimeout(() => {
      if (this.suspended?.utterance !== utterance) return;
      // Still no words after the grace period, and the caller has stopped: take the interruption back.
      if ((utterance?.partial ?? '') === '' && !this.turns.isSpeaking) {
        if (utterance) {
          utterance.discarded = true;
          utterance.abort.abort();
          utterance.audio.close();
          if (this.utterance === utterance) this.utterance = undefined;
        }
        this.resume('no_words', '');
      }
    }, this.d.agent.endpointing.resumeAfterMs);
    timer.unref();
    this.suspended = {
      ...held,
      turnKind: a.turnKind,
      reply: a.reply,
      ...(a.hangupReason ? { hangupReason: a.hangupReason } : {}),
      utterance,
      timer,
      quickTurnEnd: false,
      tools: a.tools,
      cause: a.cause,
    };
    if (utterance) this.adaptEndpointing(utterance.partial);
  }

  private abandonThinkingReply(): void {
    const a = this.active;
    if (!a?.cause) return;
    a.reply.abort.abort();
    a.reply.phase = 'interrupted';
    this.active = undefined;
    // The user message goes back out of history; it returns merged with what follows.
    const last = this.history.at(-1);
    if (last?.role === 'user') this.history.pop();
    this.continuation = a.cause;
    this.d.recorder.event('reply.abandoned', { replyId: a.reply.id, reason: 'caller_continued' });
    this.d.metrics.callerContinuedTotal.inc({ reply_phase: 'thinking' });
  }

  /** Stops whatever reply is running (a new one is about to start). */
  private stopActiveReply(): void {
    const a = this.active;
    if (!a) return;
    a.reply.abort.abort();
    if (a.reply.phase === 'speaking') {
      this.d.transport.clear();
      this.echo?.clearReference(this.now());
      const heard = a.reply.tracker.heardText(a.reply.tracker.heardMs(this.now()));
      if (a.agentTurnId) this.d.recorder.updateTurn(a.agentTurnId, { text: heard, endedAtMs: Date.now(), interrupted: true });
    }
    a.reply.phase = 'interrupted';
    this.active = undefined;
  }

  // ---------- silence and limits ----------

  private armSilenceTimer(): void {
    this.clearSilenceTimer();
    if (this.ended) return;
    this.silenceTimer = setTimeout(() => {
      if (this.turns.isSpeaking || this.active) return;
      if (!this.promptedStillThere) {
        this.promptedStillThere = true;
        this.say('prompt', STILL_THERE_PROMPT);
      } else {
        this.hangupAfter('silence_timeout', SILENCE_GOODBYE);
      }
    }, this.d.agent.maxSilenceMs / 2);
    this.silenceTimer.unref();
  }

  private clearSilenceTimer(): void {
    if (this.silenceTimer) clearTimeout(this.silenceTimer);
    this.silenceTimer = undefined;
    this.promptedStillThere = false;
  }

  /** Says `text`, then ends the call once it has been heard. */
  private hangupAfter(reason: string, text: string): void {
    if (this.ended) return;
    this.d.recorder.event('call.ending', { reason });
    this.say('prompt', text);
    if (this.active) this.active.hangupReason = reason;
  }

  private endCall(reason: string): void {
    this.d.transport.hangup(reason);
  }

  // ---------- end ----------

  /**
   * Key presses: one interrupts the agent like speech would; digits collect until the terminator,
   * maxDigits or a pause, then reach the agent as one user turn (`[keypad] 123`).
   */
  onDtmf(digit: string): void {
    if (this.ended) return;
    this.d.recorder.event('dtmf', { digit });
    this.clearSilenceTimer();
    if (this.d.agent.endpointing.bargeIn && this.agentIsSpeaking()) this.interrupt(this.now(), false);
    const cfg = this.d.agent.dtmf;
    if (this.keypad.timer) clearTimeout(this.keypad.timer);
    this.keypad.timer = undefined;
    if (digit === cfg.terminator) {
      this.flushKeypad();
      return;
    }
    this.keypad.digits += digit;
    if (this.keypad.digits.length >= cfg.maxDigits) {
      this.flushKeypad();
      return;
    }
    this.keypad.timer = setTimeout(() => this.flushKeypad(), cfg.interDigitTimeoutMs);
    this.keypad.timer.unref();
  }

  private flushKeypad(): void {
    const digits = this.keypad.digits;
    this.keypad.digits = '';
    if (this.keypad.timer) clearTimeout(this.keypad.timer);
    this.keypad.timer = undefined;
    if (digits === '' || this.ended) return;
    this.userEpoch++;
    this.d.metrics.turnsTotal.inc({ role: 'user', interrupted: 'false' });
    const text = keypadMessage(digits);
    const now = this.now();
    const id = this.d.recorder.startTurn('user', text, Date.now(), { endpointingMs: 0, sttFinalMs: 0 }, Date.now());
    this.continuation = undefined;
    this.answer({ userTurnId: id, text, lastSpeechAtMs: now, endpointingMs: 0, sttFinalMs: 0 });
  }

  onEnd(reason: string): void {
    if (this.ended) return;
    this.ended = true;
    this.callAbort.abort();
    this.dropSuspended();
    if (this.keypad.timer) clearTimeout(this.keypad.timer);
    clearTimeout(this.durationTimer);
    this.clearSilenceTimer();
    const a = this.active;
    if (a) {
      a.reply.abort.abort();
      if (a.agentTurnId) {
        const heard = a.reply.tracker.heardText(a.reply.tracker.heardMs(this.now()));
        this.d.recorder.updateTurn(a.agentTurnId, { text: heard, endedAtMs: Date.now(), interrupted: a.reply.phase === 'speaking' });
      }
      this.active = undefined;
    }
    this.utterance?.abort.abort();
    this.utterance?.audio.close();
    this.utterance = undefined;
    const status = reason.startsWith('stream_error') ? 'failed' : 'completed';
    this.d.recorder.event('call.ended', { reason, durationMs: Math.round(this.now() - this.startedAtMs) });
    this.d.recorder.end(status, reason.startsWith('socket_closed') ? 'caller_hangup' : reason);
    void this.sttChain.finally(() => this.d.stt.close());
    void this.tts.close().catch(() => {});
    this.d.onEnded?.(reason, status);
  }
}
