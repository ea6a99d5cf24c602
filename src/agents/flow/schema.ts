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

export const actionSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('end_call'), reason: text.optional() }),
  z.strictObject({ type: z.literal('transfer'), to: transferTarget, mode: z.literal('cold').optional() }),
  z.strictObject({ type: z.literal('set'), slot: identifier, value: z.union([z.string(), z.number(), z.boolean()]) }),
]);

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
    /** Slots to extract from the same utterance. */
    captures: z.array(identifier).optional(),
  })
  .refine((i) => (i.examples?.length ?? 0) + (i.keywords?.length ?? 0) + (i.patterns?.length ?? 0) > 0, {
    message: 'an intent needs examples, keywords or patterns',
  });

export const stateSchema = z.strictObject({
  /** Spoken on entering the state; templated. */
  say: text.optional(),
  intents: z.array(intentSchema).default([]),
  slots: z.array(slotRequirementSchema).optional(),
  /** Runs when every slot of the state is filled (at once on entry when the state has none). */
  onComplete: z
    .strictObject({ say: text.optional(), action: actionSchema.optional(), goto: identifier.optional() })
    .optional(),
});

export const fallbackSchema = z
  .strictObject({
    /** Said in turn when nothing matches. */
    replies: z.array(text).min(1),
    /** After this many misses in a row, `action` runs instead. */
    maxConsecutive: z.number().int().min(1).optional(),
    action: actionSchema.optional(),
    /** Said with `action` (instead of a reply); templated. */
    actionSay: text.optional(),
  })
  .superRefine((f, ctx) => {
    if (f.maxConsecutive !== undefined && f.action === undefined) {
      ctx.addIssue({ code: 'custom', path: ['action'], message: 'maxConsecutive needs an action' });
    }
    if (f.action !== undefined && f.maxConsecutive === undefined) {
      ctx.addIssue({ code: 'custom', path: ['maxConsecutive'], message: 'an action needs maxConsecutive' });
    }
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
      intents.forEach((intent, i) => {
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

/** Every transfer destination the flow names (its intents, completions and fallback). */
export function flowTransferDestinations(flow: FlowDefinition | undefined): string[] {
  if (!flow) return [];
  const actions: (FlowAction | undefined)[] = [flow.fallback?.action];
  for (const i of flow.globalIntents ?? []) actions.push(i.action);
  for (const st of Object.values(flow.states)) {
    actions.push(st.onComplete?.action);
    for (const i of st.intents) actions.push(i.action);
  }
  return actions.flatMap((a) => (a?.type === 'transfer' ? [a.to] : []));
}
