// The scripted dialog a tenant writes in its config file under `agent.flow`. Objects are strict so
// a misspelt key ("go_to") fails loudly instead of silently doing nothing; cross-references (gotos,
// captured slots) are checked after the shape, each error pointing at the offending field.
import { z } from 'zod';
import { compilePattern } from './fuzzy.js';
import { SLOT_TYPES } from './slots.js';

const text = z.string().trim().min(1);
const identifier = z
  .string()
  .regex(/^[A-Za-z][A-Za-z0-9_.-]*$/, 'must start with a letter and hold only letters, digits, _ . -');

/** E.164 ("+15550100001") or a SIP URI ("sip:desk@pbx.example.com"). */
const transferTarget = z
  .string()
  .refine((s) => /^\+[1-9]\d{6,14}$/.test(s) || /^sips?:[^@\s]+@[^@\s]+$/.test(s), {
    message: 'must be an E.164 number (+15550100001) or a SIP URI (sip:user@host)',
  });

/** A tenant tool name (letters, digits, _), as in the agent's `tools`. */
const toolName = z.string().regex(/^[a-zA-Z][a-zA-Z0-9_]{0,63}$/, 'letters, digits and _, starting with a letter');
/** Keys a caller can press (the 16 DTMF keys). */
const keypadKeys = z.string().regex(/^[0-9*#A-D]{1,32}$/, 'must be 1 to 32 keypad keys: 0-9 * # A-D');
/** Keys the agent presses: keypad keys and `w` (a half-second pause). */
const dtmfToSend = z.string().regex(/^[0-9*#A-Dw]{1,32}$/, 'must be 1 to 32 of 0-9 * # A-D and w (pause)');

/** Tool names the flow runner handles itself; a `tool` action may not name them. */
const CONTROL_TOOL_NAMES = new Set(['end_call', 'transfer_call']);

export const actionSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('end_call'), reason: text.optional() }),
  z
    .strictObject({
      type: z.literal('transfer'),
      to: transferTarget,
      /** warm: the person answering hears `summary` (a briefing) before the caller is connected. */
      mode: z.enum(['cold', 'warm']).optional(),
      /** The briefing for a warm transfer; templated. Without one the session writes its own. */
      summary: text.optional(),
    })
    .superRefine((a, ctx) => {
      if (a.summary !== undefined && a.mode !== 'warm') ctx.addIssue({ code: 'custom', path: ['summary'], message: 'a summary needs mode: warm' });
    }),
  z.strictObject({ type: z.literal('set'), slot: identifier, value: z.union([z.string(), z.number(), z.boolean()]) }),
  /** Texts the caller (send_sms tool); templated. */
  z.strictObject({ type: z.literal('send_sms'), body: text.max(1600) }),
  /** Promises a call back (schedule_callback tool): in `inMinutes`, or `at` (templated, ISO-8601 with offset). */
  z
    .strictObject({
      type: z.literal('schedule_callback'),
      inMinutes: z.number().int().min(1).max(30 * 24 * 60).optional(),
      at: text.optional(),
      reason: text.max(500).optional(),
    })
    .superRefine((a, ctx) => {
      if ((a.inMinutes === undefined) === (a.at === undefined)) ctx.addIssue({ code: 'custom', path: ['inMinutes'], message: 'give exactly one of inMinutes or at' });
    }),
  /** Runs one of the agent's tools by name; string values in `arguments` are templated. */
  z.strictObject({
    type: z.literal('tool'),
    name: toolName.refine((n) => !CONTROL_TOOL_NAMES.has(n), { message: 'use the end_call or transfer action instead' }),
    arguments: z.record(z.string(), z.unknown()).optional(),
  }),
  /** Presses keys towards the other side (send_dtmf tool). */
  z.strictObject({ type: z.literal('send_dtmf'), digits: dtmfToSend }),
]);

/** Actions that end the dialog: nothing after them runs. */
export const TERMINAL_ACTIONS: ReadonlySet<FlowAction['type']> = new Set(['end_call', 'transfer']);

const actionList = z.array(actionSchema).min(1).max(10);

/** `action` and `actions` are alternatives; a terminal action may only come last. */
function checkActions(v: { action?: FlowAction | undefined; actions?: FlowAction[] | undefined }, ctx: z.RefinementCtx): void {
  if (v.action !== undefined && v.actions !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['actions'], message: 'use either action or actions, not both' });
  }
  v.actions?.forEach((a, i, all) => {
    if (TERMINAL_ACTIONS.has(a.type) && i < all.length - 1) {
      ctx.addIssue({ code: 'custom', path: ['actions', i], message: `${a.type} ends the dialog, so it must be the last action` });
    }
  });
}

/** The actions of an intent, completion or fallback, in order (`action` or `actions`). */
export function actionsOf(v: { readonly action?: FlowAction | undefined; readonly actions?: readonly FlowAction[] | undefined }): readonly FlowAction[] {
  return v.actions ?? (v.action !== undefined ? [v.action] : []);
}

export const slotTypeSchema = z.enum(SLOT_TYPES);

const slotShape = {
  type: slotTypeSchema,
  /** Allowed values of an `enum` slot (required for enum, matched fuzzily). */
  values: z.array(text).min(1).optional(),
};

function enumNeedsValues(s: { type: string; values?: string[] | undefined }, ctx: z.RefinementCtx): void {
  if (s.type === 'enum' && s.values === undefined) {
    ctx.addIssue({ code: 'custom', path: ['values'], message: 'an enum slot needs values' });
  }
  if (s.type !== 'enum' && s.values !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['values'], message: 'values only apply to enum slots' });
  }
}

/** A slot declared once at flow level, for slots only ever captured by intents. */
export const slotDefinitionSchema = z.strictObject(slotShape).superRefine(enumNeedsValues);

/** A slot a state collects: asked with `prompt` while missing, in declaration order. */
export const slotRequirementSchema = z
  .strictObject({ name: identifier, ...slotShape, prompt: text })
  .superRefine(enumNeedsValues);

export const intentSchema = z
  .strictObject({
    name: text,
    /** Phrases meaning this intent; compared by fuzzy token overlap. */
    examples: z.array(text).optional(),
    /** Any-of words or short phrases; matched fuzzily. */
    keywords: z.array(text).optional(),
    /** Regex sources, case-insensitive, tried on the normalised and the raw utterance. */
    patterns: z
      .array(z.string().min(1).refine((p) => compilePattern(p) !== null, { message: 'not a valid regular expression' }))
      .optional(),
    /** Spoken when the intent matches; templated. */
    reply: text.optional(),
    goto: identifier.optional(),
    action: actionSchema.optional(),
    /** Several actions in order (instead of `action`). */
    actions: actionList.optional(),
    /** Slots to extract from the same utterance. */
    captures: z.array(identifier).optional(),
    /** Keys that select this intent ("1", "0", "*"): a keypad entry equal to it matches with certainty. */
    dtmf: keypadKeys.optional(),
  })
  .refine((i) => (i.examples?.length ?? 0) + (i.keywords?.length ?? 0) + (i.patterns?.length ?? 0) > 0 || i.dtmf !== undefined, {
    message: 'an intent needs examples, keywords, patterns or dtmf',
  })
  .superRefine(checkActions);

export const stateSchema = z.strictObject({
  /** Spoken on entering the state; templated. */
  say: text.optional(),
  intents: z.array(intentSchema).default([]),
  slots: z.array(slotRequirementSchema).optional(),
  /** Runs when every slot of the state is filled (at once on entry when the state has none). */
  onComplete: z
    .strictObject({ say: text.optional(), action: actionSchema.optional(), actions: actionList.optional(), goto: identifier.optional() })
    .superRefine(checkActions)
    .optional(),
});

export const fallbackSchema = z
  .strictObject({
    /** Said in turn when nothing matches. */
    replies: z.array(text).min(1),
    /** After this many misses in a row, `action` runs instead. */
    maxConsecutive: z.number().int().min(1).optional(),
    action: actionSchema.optional(),
    /** Several actions in order (instead of `action`). */
    actions: actionList.optional(),
    /** Said with the action(s) (instead of a reply); templated. */
    actionSay: text.optional(),
  })
  .superRefine((f, ctx) => {
    const hasAction = f.action !== undefined || f.actions !== undefined;
    if (f.maxConsecutive !== undefined && !hasAction) {
      ctx.addIssue({ code: 'custom', path: ['action'], message: 'maxConsecutive needs an action' });
    }
    if (hasAction && f.maxConsecutive === undefined) {
      ctx.addIssue({ code: 'custom', path: ['maxConsecutive'], message: 'an action needs maxConsecutive' });
    }
    checkActions(f, ctx);
  });

function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

export const flowSchema = z
  .strictObject({
    start: identifier,
    states: z.record(identifier, stateSchema).refine((s) => Object.keys(s).length > 0, { message: 'needs at least one state' }),
    fallback: fallbackSchema.optional(),
    /** Intents checked in every state (goodbye, operator); state intents win ties. */
    globalIntents: z.array(intentSchema).optional(),
    /** Slots captured by intents but not collected by any state. */
    slots: z.record(identifier, slotDefinitionSchema).optional(),
    /** Minimum intent score, 0..1. Default 0.5. */
    matchThreshold: z.number().min(0).max(1).optional(),
    /** IANA zone for "today"/"friday". Default UTC. */
    timezone: z.string().refine(isTimeZone, { message: 'not an IANA time zone' }).optional(),
  })
  .superRefine((flow, ctx) => {
    const states = flow.states;
    const exists = (id: string): boolean => Object.hasOwn(states, id);
    if (!exists(flow.start)) {
      ctx.addIssue({ code: 'custom', path: ['start'], message: `unknown state "${flow.start}"` });
    }

    // Slot types by name; the same name must mean the same type everywhere.
    const slotTypes = new Map<string, string>();
    const declare = (name: string, type: string, path: (string | number)[]): void => {
      const known = slotTypes.get(name);
      if (known !== undefined && known !== type) {
        ctx.addIssue({ code: 'custom', path, message: `slot "${name}" is declared as ${known} elsewhere` });
      }
      slotTypes.set(name, known ?? type);
    };
    for (const [name, def] of Object.entries(flow.slots ?? {})) declare(name, def.type, ['slots', name, 'type']);
    for (const [id, state] of Object.entries(states)) {
      state.slots?.forEach((s, i) => declare(s.name, s.type, ['states', id, 'slots', i, 'type']));
    }

    const checkIntents = (intents: readonly z.infer<typeof intentSchema>[], base: (string | number)[]): void => {
      const keys = new Map<string, number>();
      intents.forEach((intent, i) => {
        if (intent.dtmf !== undefined) {
          const first = keys.get(intent.dtmf);
          if (first !== undefined) {
            ctx.addIssue({ code: 'custom', path: [...base, i, 'dtmf'], message: `keys "${intent.dtmf}" already select intent ${first}` });
          } else keys.set(intent.dtmf, i);
        }
        if (intent.goto !== undefined && !exists(intent.goto)) {
          ctx.addIssue({ code: 'custom', path: [...base, i, 'goto'], message: `unknown state "${intent.goto}"` });
        }
        intent.captures?.forEach((slot, j) => {
          if (!slotTypes.has(slot)) {
            ctx.addIssue({
              code: 'custom',
              path: [...base, i, 'captures', j],
              message: `unknown slot "${slot}": declare it in a state's slots or in the flow's slots`,
            });
          }
        });
      });
    };
    checkIntents(flow.globalIntents ?? [], ['globalIntents']);
    for (const [id, state] of Object.entries(states)) {
      checkIntents(state.intents, ['states', id, 'intents']);
      const target = state.onComplete?.goto;
      if (target !== undefined && !exists(target)) {
        ctx.addIssue({ code: 'custom', path: ['states', id, 'onComplete', 'goto'], message: `unknown state "${target}"` });
      }
    }

    // States without slots complete on entry; a ring of them would loop forever.
    for (const id of Object.keys(states)) {
      const seen = new Set<string>();
      let cur: string | undefined = id;
      while (cur !== undefined && exists(cur)) {
        const st: z.infer<typeof stateSchema> | undefined = states[cur];
        if (!st || (st.slots?.length ?? 0) > 0 || st.onComplete?.goto === undefined) break;
        if (seen.has(cur)) {
          // Reported by the state the ring returns to; states merely leading into a ring are not at fault.
          if (cur !== id) break;
          ctx.addIssue({
            code: 'custom',
            path: ['states', id, 'onComplete', 'goto'],
            message: `states without slots form a loop through onComplete: ${[...seen].join(' → ')}`,
          });
          break;
        }
        seen.add(cur);
        cur = st.onComplete.goto;
      }
    }
  });

/** A validated flow (defaults applied). */
export type FlowDefinition = z.infer<typeof flowSchema>;
export type FlowState = z.infer<typeof stateSchema>;
export type FlowIntent = z.infer<typeof intentSchema>;
export type FlowAction = z.infer<typeof actionSchema>;
export type SlotRequirement = z.infer<typeof slotRequirementSchema>;
export type SlotDefinition = z.infer<typeof slotDefinitionSchema>;
/** What a tenant file may contain before defaults (e.g. a state without `intents`). */
export type FlowInput = z.input<typeof flowSchema>;

/** Every action the flow can run (intents, completions, fallback), in declaration order. */
export function flowActions(flow: FlowDefinition | undefined): FlowAction[] {
  if (!flow) return [];
  const out: FlowAction[] = [];
  if (flow.fallback) out.push(...actionsOf(flow.fallback));
  for (const i of flow.globalIntents ?? []) out.push(...actionsOf(i));
  for (const st of Object.values(flow.states)) {
    if (st.onComplete) out.push(...actionsOf(st.onComplete));
    for (const i of st.intents) out.push(...actionsOf(i));
  }
  return out;
}

/** Every transfer destination the flow names (its intents, completions and fallback). */
export function flowTransferDestinations(flow: FlowDefinition | undefined): string[] {
  return flowActions(flow).flatMap((a) => (a.type === 'transfer' ? [a.to] : []));
}

/**
 * The agent tools the flow's actions call (send_sms, schedule_callback, send_dtmf and `tool`
 * names), each once. Every one must be enabled in the agent's `tools`, or the call would fail at
 * run time; the tenant schema cannot see the flow's needs by itself, so the loader checks with this.
 * end_call and transfer_call are not included (the session always handles them).
 */
export function flowToolNames(flow: FlowDefinition | undefined): string[] {
  const names = flowActions(flow).flatMap((a) => {
    switch (a.type) {
      case 'send_sms':
      case 'schedule_callback':
      case 'send_dtmf':
        return [a.type];
      case 'tool':
        return [a.name];
      default:
        return [];
    }
  });
  return [...new Set(names)];
}
