// The keyless default agent: runs a tenant's scripted dialog (schema.ts) as an LlmProvider.
// One instance per call; it holds that call's dialog state and filled slots.
import { randomUUID } from 'node:crypto';
import type { CallOptions, ChatRequest, LlmDelta, LlmProvider, ToolCall } from '../../providers/types.js';
import { parseKeypadMessage } from '../keypad.js';
import { matchIntent, normalise } from './fuzzy.js';
import { actionsOf, type FlowAction, type FlowDefinition, type FlowIntent, type FlowState, type SlotRequirement } from './schema.js';
import { extractSlot, type SlotType, type SlotValue } from './slots.js';
import { renderTemplate } from './template.js';

/**
 * Call-control tools the flow agent emits; the session always implements both. Its other actions
 * emit the agent tools named by `flowToolNames` (schema.ts), which the agent must enable.
 */
export const flowAgentToolNames = ['end_call', 'transfer_call'] as const;

export interface FlowAgentOptions {
  /** Clock for relative dates ("friday", "tomorrow"). Default: the system clock. */
  readonly now?: () => Date;
  /** Call variables for templates, e.g. `{ 'caller.number': '+15551234567' }`. Default: none. */
  readonly variables?: Readonly<Record<string, string>>;
  /** IANA zone "today" is in. Default: the flow's `timezone`, else UTC. */
  readonly timezone?: string;
}

export const flowAgentDefaults = {
  now: () => new Date(),
  variables: {},
  timezone: 'UTC',
} as const satisfies Required<FlowAgentOptions>;

/** Default intent threshold when the flow sets no `matchThreshold`. */
export const DEFAULT_MATCH_THRESHOLD = 0.5;
/** Said when nothing matches and the flow has no `fallback`. */
export const DEFAULT_FALLBACK_REPLY = "Sorry, I didn't catch that. Could you say it another way?";
/** Slot types worth taking from an answer to a different question: their values are unmistakable. */
const OPPORTUNISTIC: ReadonlySet<SlotType> = new Set<SlotType>(['date', 'phone', 'enum']);
/** Bound on state entries per turn; schema validation rejects loops, this guards hand-built flows. */
const MAX_HOPS = 16;
/** Slot types a keypad entry can fill. */
const KEYPAD_SLOTS: ReadonlySet<SlotType> = new Set<SlotType>(['number', 'phone']);
/** A template that is exactly one placeholder: a tool argument then takes the value itself, not text. */
const WHOLE_PLACEHOLDER = /^\{\{\s*([A-Za-z0-9_.-]+)\s*\}\}$/;

/** A slot's value as data for tools: numbers and booleans as such, dates ISO, times hh:mm, phones as digits. */
function slotData(v: SlotValue): string | number | boolean {
  if (typeof v !== 'object') return v;
  switch (v.kind) {
    case 'date':
      return v.iso;
    case 'time':
      return v.hhmm;
    case 'phone':
      return v.digits;
  }
}

/** What one utterance did. */
export interface FlowTurn {
  /** Everything to say, in order. May be empty. */
  readonly text: string;
  /** Tool calls of the actions that ran, in order, to run once the text is spoken. */
  readonly toolCalls: readonly ToolCall[];
  /** The intent that matched, if any. */
  readonly intent?: string;
  /** Whether nothing matched (fallback reply or action). */
  readonly fallback: boolean;
}

interface Turn {
  readonly parts: string[];
  readonly calls: ToolCall[];
  /** Slots filled this turn: entering a completed state again keeps these, clears the rest. */
  readonly captured: Set<string>;
  hops: number;
}

/** Splits text into sentence-sized chunks whose concatenation is the text. "p.m. and" does not end a sentence. */
export function splitSentences(text: string): string[] {
  const pieces = text.split(/(?<=[.!?])\s+(?=[A-Z0-9"'])/);
  return pieces.filter((p) => p !== '').map((p, i, all) => (i < all.length - 1 ? `${p} ` : p));
}

/**
 * Runs a scripted dialog. `complete()` takes the last user message as the utterance; global and
 * state intents are scored (fuzzy, see fuzzy.ts), then slots are captured, then the reply, goto and
 * action run; states with slots ask for the first missing one until all are filled and then run
 * `onComplete`; unmatched utterances get rotating fallback replies and, after `maxConsecutive`
 * misses in a row, the fallback action.
 */
export class FlowAgent implements LlmProvider {
  readonly name = 'flow';
  readonly #flow: FlowDefinition;
  readonly #now: () => Date;
  readonly #variables: Readonly<Record<string, string>>;
  readonly #timezone: string;
  readonly #slotSpecs = new Map<string, { type: SlotType; values?: readonly string[] | undefined }>();
  #state: string;
  #slots: Record<string, SlotValue> = {};
  /** States whose onComplete has run; entering one again starts its collection over. */
  readonly #completed = new Set<string>();
  #misses = 0;
  #fallbackIndex = 0;

  constructor(flow: FlowDefinition, options: FlowAgentOptions = {}) {
    if (!Object.hasOwn(flow.states, flow.start)) throw new Error(`flow start state "${flow.start}" does not exist`);
    this.#flow = flow;
    this.#now = options.now ?? flowAgentDefaults.now;
    this.#variables = options.variables ?? flowAgentDefaults.variables;
    this.#timezone = options.timezone ?? flow.timezone ?? flowAgentDefaults.timezone;
    this.#state = flow.start;
    for (const [name, def] of Object.entries(flow.slots ?? {})) this.#slotSpecs.set(name, def);
    for (const st of Object.values(flow.states)) {
      for (const s of st.slots ?? []) if (!this.#slotSpecs.has(s.name)) this.#slotSpecs.set(s.name, s);
    }
  }

  /** Current state id (for the call record). */
  get state(): string {
    return this.#state;
  }

  /** Filled slots (a copy, for the call record). */
  get slots(): Readonly<Record<string, SlotValue>> {
    return { ...this.#slots };
  }

  /** What the start state says on entry (its `say`, then its first slot prompt), if anything. */
  initialPrompt(): string | undefined {
    const st = this.#stateDef(this.#flow.start);
    const parts: string[] = [];
    if (st.say !== undefined) parts.push(this.#render(st.say));
    const missing = this.#firstMissing(st);
    if (missing) parts.push(this.#render(missing.prompt));
    const text = parts.join(' ').trim();
    return text === '' ? undefined : text;
  }

  /**
   * Streams the reply to the last user message: sentence-sized text deltas, then one tool_call
   * per action. With no user message yet it streams `initialPrompt()`; after a tool result (one of
   * its own actions reporting back: the flow already said what follows) it yields nothing. Stops
   * yielding once the signal aborts; the dialog state has already advanced by then, as the caller
   * heard the start.
   */
  async *complete(req: ChatRequest, o: CallOptions): AsyncIterable<LlmDelta> {
    if (o.signal.aborted) return;
    const last = req.messages.at(-1);
    if (last?.role === 'tool') return;
    const user = req.messages.findLast((m) => m.role === 'user');
    const turn: Pick<FlowTurn, 'text' | 'toolCalls'> =
      user === undefined ? { text: this.initialPrompt() ?? '', toolCalls: [] } : this.respond(user.content);
    for (const chunk of splitSentences(turn.text)) {
      if (o.signal.aborted) return;
      yield { kind: 'text', text: chunk };
    }
    for (const call of turn.toolCalls) {
      if (o.signal.aborted) return;
      yield { kind: 'tool_call', call };
    }
  }

  /**
   * Advances the dialog by one utterance and returns what to say and do. A keypad entry
   * (`[keypad] 1`, see keypad.ts) selects the intent whose `dtmf` equals it, else fills a number or
   * phone slot being asked for, else is a miss: key presses are never matched fuzzily.
   */
  respond(utterance: string): FlowTurn {
    const turn: Turn = { parts: [], calls: [], captured: new Set(), hops: 0 };
    const finish = (intent: string | undefined, fallback: boolean): FlowTurn => ({
      text: turn.parts.join(' ').replace(/\s+/g, ' ').trim(),
      toolCalls: turn.calls,
      ...(intent === undefined ? {} : { intent }),
      fallback,
    });
    const keys = parseKeypadMessage(utterance);
    if (keys !== undefined) return this.#respondToKeys(keys, turn, finish);
    if (normalise(utterance) === '') {
      this.#fallback(turn);
      return finish(undefined, true);
    }

    const st = this.#stateDef(this.#state);
    const match = matchIntent(
      utterance,
      st.intents,
      this.#flow.globalIntents ?? [],
      this.#flow.matchThreshold ?? DEFAULT_MATCH_THRESHOLD,
    );
    if (match) {
      this.#runIntent(match.intent, turn, (name) => this.#capture(name, utterance, turn));
      return finish(match.intent.name, false);
    }

    if (this.#firstMissing(st) && this.#fillFrom(utterance, st, turn)) {
      this.#misses = 0;
      this.#continue(turn);
      return finish(undefined, false);
    }
    this.#fallback(turn);
    return finish(undefined, true);
  }

  #respondToKeys(keys: string, turn: Turn, finish: (intent: string | undefined, fallback: boolean) => FlowTurn): FlowTurn {
    const st = this.#stateDef(this.#state);
    const intent = st.intents.find((i) => i.dtmf === keys) ?? this.#flow.globalIntents?.find((i) => i.dtmf === keys);
    if (intent) {
      this.#runIntent(intent, turn, (name) => this.#captureKeys(name, keys, turn));
      return finish(intent.name, false);
    }
    const missing = this.#firstMissing(st);
    if (missing && this.#captureKeys(missing.name, keys, turn)) {
      this.#misses = 0;
      this.#continue(turn);
      return finish(undefined, false);
    }
    this.#fallback(turn);
    return finish(undefined, true);
  }

  /** A matched intent: captures, reply, actions, then goto (or carry on with the state). */
  #runIntent(intent: FlowIntent, turn: Turn, capture: (slot: string) => boolean): void {
    this.#misses = 0;
    for (const name of intent.captures ?? []) capture(name);
    if (intent.reply !== undefined) turn.parts.push(this.#render(intent.reply));
    const terminal = this.#performAll(actionsOf(intent), turn);
    if (intent.goto !== undefined) {
      if (terminal) this.#state = intent.goto;
      else this.#enter(intent.goto, turn);
    } else if (!terminal) {
      this.#continue(turn);
    }
  }

  #stateDef(id: string): FlowState {
    const st = this.#flow.states[id];
    if (st === undefined) throw new Error(`flow state "${id}" does not exist`);
    return st;
  }

  #render(template: string): string {
    return renderTemplate(template, this.#slots, this.#variables);
  }

  #firstMissing(st: FlowState): SlotRequirement | undefined {
    return st.slots?.find((s) => this.#slots[s.name] === undefined);
  }

  #extract(name: string, utterance: string): SlotValue | undefined {
    const spec = this.#slotSpecs.get(name);
    if (spec === undefined) return undefined;
    return extractSlot(spec.type, utterance, { now: this.#now(), timezone: this.#timezone, values: spec.values });
  }

  /** Keypad digits into a number or phone slot (digits only: * and # fill nothing). */
  #captureKeys(name: string, keys: string, turn: Turn): boolean {
    const spec = this.#slotSpecs.get(name);
    if (spec === undefined || !KEYPAD_SLOTS.has(spec.type) || !/^\d+$/.test(keys)) return false;
    return this.#capture(name, keys, turn);
  }

  #capture(name: string, utterance: string, turn: Turn): boolean {
    const value = this.#extract(name, utterance);
    if (value === undefined) return false;
    this.#slots[name] = value;
    turn.captured.add(name);
    return true;
  }

  /** Answer to a slot prompt: the asked slot takes any type; other missing slots only unmistakable ones. */
  #fillFrom(utterance: string, st: FlowState, turn: Turn): boolean {
    const missing = (st.slots ?? []).filter((s) => this.#slots[s.name] === undefined);
    let any = false;
    missing.forEach((s, i) => {
      if (i === 0 || OPPORTUNISTIC.has(s.type)) any = this.#capture(s.name, utterance, turn) || any;
    });
    return any;
  }

  /** Runs actions in order; true when one ended the dialog (the rest, if any, do not run). */
  #performAll(actions: readonly FlowAction[], turn: Turn): boolean {
    for (const a of actions) if (this.#perform(a, turn)) return true;
    return false;
  }

  /** Runs an action; true when it ends the dialog (end_call, transfer). */
  #perform(action: FlowAction, turn: Turn): boolean {
    const call = (name: string, args: Record<string, unknown>): void => {
      turn.calls.push({ id: `flow_${randomUUID()}`, name, arguments: args });
    };
    switch (action.type) {
      case 'set':
        this.#slots[action.slot] = action.value;
        turn.captured.add(action.slot);
        return false;
      case 'end_call':
        call('end_call', { reason: action.reason ?? 'completed' });
        return true;
      case 'transfer':
        call('transfer_call', {
          to: action.to,
          mode: action.mode ?? 'cold',
          ...(action.summary !== undefined ? { summary: this.#renderText(action.summary) } : {}),
        });
        return true;
      case 'send_sms':
        call('send_sms', { body: this.#renderText(action.body) });
        return false;
      case 'schedule_callback':
        call('schedule_callback', {
          ...(action.inMinutes !== undefined ? { inMinutes: action.inMinutes } : {}),
          ...(action.at !== undefined ? { at: this.#renderText(action.at) } : {}),
          ...(action.reason !== undefined ? { reason: this.#renderText(action.reason) } : {}),
        });
        return false;
      case 'tool':
        call(action.name, this.#renderArgs(action.arguments ?? {}) as Record<string, unknown>);
        return false;
      case 'send_dtmf':
        call('send_dtmf', { digits: action.digits });
        return false;
    }
  }

  /**
   * Text for a tool (an SMS, a briefing): like spoken templates, and slot fields are reachable by
   * dotted paths (`{{start_day.iso}}`, `{{callback.hhmm}}`, `{{phone.digits}}`).
   */
  #renderText(template: string): string {
    return renderTemplate(template, this.#slots, { ...this.#variables, ...this.#slots });
  }

  /** Tool arguments: strings templated; a string that is one `{{slot}}` becomes the slot's data value. */
  #renderArgs(value: unknown): unknown {
    if (typeof value === 'string') {
      const whole = WHOLE_PLACEHOLDER.exec(value)?.[1];
      if (whole !== undefined) {
        const slot = this.#slots[whole];
        if (slot !== undefined) return slotData(slot);
      }
      return this.#renderText(value);
    }
    if (Array.isArray(value)) return value.map((v) => this.#renderArgs(v));
    if (typeof value === 'object' && value !== null) {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, this.#renderArgs(v)]));
    }
    return value;
  }

  #enter(id: string, turn: Turn): void {
    if (++turn.hops > MAX_HOPS) return;
    const st = this.#stateDef(id);
    if (this.#completed.has(id)) {
      this.#completed.delete(id);
      for (const s of st.slots ?? []) if (!turn.captured.has(s.name)) delete this.#slots[s.name];
    }
    this.#state = id;
    if (st.say !== undefined) turn.parts.push(this.#render(st.say));
    this.#continue(turn);
  }

  /** Asks for the current state's first missing slot, or runs its onComplete once all are filled. */
  #continue(turn: Turn): void {
    const id = this.#state;
    const st = this.#stateDef(id);
    const missing = this.#firstMissing(st);
    if (missing) {
      turn.parts.push(this.#render(missing.prompt));
      return;
    }
    if (this.#completed.has(id)) return;
    this.#completed.add(id);
    const done = st.onComplete;
    if (done === undefined) return;
    if (done.say !== undefined) turn.parts.push(this.#render(done.say));
    const terminal = this.#performAll(actionsOf(done), turn);
    if (done.goto === undefined) return;
    if (terminal) this.#state = done.goto;
    else this.#enter(done.goto, turn);
  }

  #fallback(turn: Turn): void {
    this.#misses++;
    const fb = this.#flow.fallback;
    const replies = fb?.replies ?? [DEFAULT_FALLBACK_REPLY];
    const nextReply = (): string => this.#render(replies[this.#fallbackIndex++ % replies.length] ?? DEFAULT_FALLBACK_REPLY);
    const actions = fb ? actionsOf(fb) : [];
    if (fb && actions.length > 0 && fb.maxConsecutive !== undefined && this.#misses >= fb.maxConsecutive) {
      this.#misses = 0;
      turn.parts.push(fb.actionSay !== undefined ? this.#render(fb.actionSay) : nextReply());
      if (!this.#performAll(actions, turn)) this.#reprompt(turn);
      return;
    }
    turn.parts.push(nextReply());
    this.#reprompt(turn);
  }

  #reprompt(turn: Turn): void {
    const missing = this.#firstMissing(this.#stateDef(this.#state));
    if (missing) turn.parts.push(this.#render(missing.prompt));
  }
}
