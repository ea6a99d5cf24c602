/**
 * Simulation scenarios (`parley simulate FILE.yaml`): who the simulated caller dials, what it says
 * and does, how bad its phone is, how many copies run at once, and what must hold afterwards.
 * See docs/simulate.md for the format.
 */
import { readFile } from 'node:fs/promises';
import { basename, dirname, extname, isAbsolute, resolve } from 'node:path';
import YAML from 'yaml';
import { z } from 'zod';
import { expandEnvReferences, formatZodIssues } from '../tenants/loader.js';
import type { CallStep } from './simulated-caller.js';

/** Thrown when a scenario file cannot be used; the message names the file and the field. */
export class ScenarioError extends Error {
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(`${file}: ${message}`);
    this.name = 'ScenarioError';
  }
}

const e164 = z.string().regex(/^\+[1-9]\d{6,14}$/, 'must be an E.164 number like +15550100000');
const ms = (max: number) => z.number().int('must be a whole number of milliseconds').min(0).max(max);
const count = (max: number) => z.number().int('must be a whole number').min(0).max(max);

const sayPartSchema = z.union(
  [
    z.string().trim().min(1, 'must not be empty'),
    z.strictObject({ pauseMs: z.number().int('must be a whole number of milliseconds').min(20, 'must be at least 20 ms').max(30_000) }),
  ],
  { error: 'must be words or a { pauseMs } pause' },
);

const stepObject = z.strictObject({
  /** Words to say; a list mixes words and `{ pauseMs }` silences into one utterance. */
  say: z
    .union([z.string().trim().min(1, 'must not be empty'), z.array(sayPartSchema).min(1, 'must not be empty')], {
      error: 'must be words, or a list of words and { pauseMs } pauses',
    })
    .optional(),
  /** A WAV file to play (relative to the scenario file). */
  wav: z.string().min(1).optional(),
  /** Keys to press (0-9, *, #, A-D). */
  dtmf: z.string().regex(/^[0-9*#A-D]+$/, 'keys 0-9, *, #, A-D').optional(),
  /** Speak this long after the agent starts talking, over it (a barge-in). */
  bargeInAfterMs: ms(60_000).optional(),
  /** Say this over the agent this long after it starts talking, as an acknowledgement it should ignore. */
  backchannelAfterMs: ms(60_000).optional(),
  /** Silence after the agent finishes, before this step; alone, a silent step. */
  pauseMs: ms(120_000).optional(),
});

/** A step; a bare string is short for `{ say: … }`. */
const stepSchema = z.preprocess(
  (v) => (typeof v === 'string' ? { say: v } : v),
  stepObject.superRefine((s, ctx) => {
    const actions = (['say', 'wav', 'dtmf'] as const).filter((k) => s[k] !== undefined);
    if (actions.length > 1) ctx.addIssue({ code: 'custom', message: `give one of say, wav or dtmf, not ${actions.join(' and ')}` });
    if (actions.length === 0 && s.pauseMs === undefined) ctx.addIssue({ code: 'custom', message: 'a step needs say, wav, dtmf or pauseMs' });
    if (s.bargeInAfterMs !== undefined && s.backchannelAfterMs !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['backchannelAfterMs'], message: 'a step is a barge-in or a backchannel, not both' });
    }
    for (const k of ['bargeInAfterMs', 'backchannelAfterMs'] as const) {
      if (s[k] === undefined) continue;
      if (s.pauseMs !== undefined) ctx.addIssue({ code: 'custom', path: ['pauseMs'], message: `a step spoken over the agent cannot also pause (${k} already says when to start)` });
      if (actions.length === 0) ctx.addIssue({ code: 'custom', path: [k], message: 'needs something to say, play or press' });
    }
  }),
);

/** Upper bounds on a latency distribution, ms. */
const boundsSchema = z
  .strictObject({ p50: ms(600_000).optional(), p90: ms(600_000).optional(), p95: ms(600_000).optional(), p99: ms(600_000).optional(), max: ms(600_000).optional() })
  .refine((b) => Object.keys(b).length > 0, 'give at least one of p50, p90, p95, p99, max');

export const expectSchema = z.strictObject({
  /** Calls that failed (could not be placed, or ran past timeoutMs). Default 0. */
  maxFailedCalls: count(1_000_000).default(0),
  /** Utterances the agent never answered (within the caller's replyTimeoutMs). */
  maxUnanswered: count(1_000_000).optional(),
  /** Utterances the agent talked over before the caller finished. */
  maxCutOffs: count(1_000_000).optional(),
  /** Times the agent stopped talking (clear) although the caller was silent. */
  maxFalseInterruptions: count(1_000_000).optional(),
  /** Deliberate barge-ins (bargeInAfterMs) the agent did not stop for. */
  maxMissedBargeIns: count(1_000_000).optional(),
  /** Backchannels (backchannelAfterMs) the agent stopped for, however briefly. */
  maxBackchannelInterruptions: count(1_000_000).optional(),
  /** A backchannel that stopped the agent: end of the caller's speech to the agent heard again. */
  backchannelResumeMs: boundsSchema.optional(),
  /** End of speech to first agent audio, as the caller heard it. */
  heardLatencyMs: boundsSchema.optional(),
  /** Server-side figures (need the call records: --admin-key, or an in-process server). */
  voiceToVoiceMs: boundsSchema.optional(),
  parleyOverheadMs: boundsSchema.optional(),
  /** Every call ended for one of these reasons (e.g. agent_hangup, transfer, caller_hangup). */
  endReason: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).optional(),
  /** The agent said each of these in every call: a case-insensitive substring, or /regex/flags. */
  agentSays: z.array(z.string().min(1)).min(1).optional(),
});

export const scenarioSchema = z.strictObject({
  /** Shown in reports; default: the file name without extension. */
  name: z.string().min(1).optional(),
  description: z.string().optional(),
  /** The number dialled: one of the tenant's numbers. */
  to: e164,
  /** The caller's number; default a distinct test number per simulated call. */
  from: e164.optional(),
  /** Copies of the call that run at once (--calls overrides). */
  calls: count(1000).min(1).default(1),
  /** Rounds of `calls` calls, one after another (--repeat overrides). */
  repeat: count(1000).min(1).default(1),
  /** The concurrent calls of a round start evenly spread over this window. */
  arrivalSpreadMs: ms(3_600_000).default(0),
  /** A call still going after this long is hung up and counts as failed. */
  timeoutMs: ms(3_600_000).min(1000).default(180_000),
  caller: z
    .strictObject({
      /** Line noise, RMS dBFS (default about -67.5, a quiet line; -40 is a noisy street). */
      noiseDb: z.number().min(-100).max(0).optional(),
      /** A speakerphone: the agent's audio comes back into the call. */
      echo: z
        .strictObject({
          delayMs: z.number().int('must be a whole number of milliseconds').min(20, 'must be at least 20 ms (one frame)').max(2000),
          attenuationDb: z.number().min(0).max(100),
        })
        .optional(),
      /** Agent silence that means it has finished (default 1200). */
      quietMs: ms(60_000).min(100).optional(),
      /** Longest wait for an answer after each utterance (default 10000). */
      replyTimeoutMs: ms(600_000).min(100).optional(),
    })
    .default({}),
  steps: z.array(stepSchema).min(1, 'a scenario needs at least one step'),
  expect: expectSchema.default({ maxFailedCalls: 0 }),
});

export type Scenario = Omit<z.infer<typeof scenarioSchema>, 'steps' | 'name'> & { readonly name: string; readonly file: string; readonly steps: CallStep[] };
export type ScenarioExpect = z.infer<typeof expectSchema>;
export type LatencyBounds = z.infer<typeof boundsSchema>;

/** Parses and validates one scenario document (already read from `file`); wav paths become relative to the file. */
export function parseScenario(file: string, text: string, env: Readonly<Record<string, string | undefined>> = process.env): Scenario {
  const json = extname(file) === '.json';
  let raw: unknown;
  try {
    raw = json ? JSON.parse(text) : YAML.parse(text);
  } catch (err) {
    throw new ScenarioError(file, `not valid ${json ? 'JSON' : 'YAML'}: ${(err as Error).message}`);
  }
  let expanded: unknown;
  try {
    expanded = expandEnvReferences(raw, env);
  } catch (err) {
    throw new ScenarioError(file, (err as Error).message);
  }
  const parsed = scenarioSchema.safeParse(expanded);
  if (!parsed.success) throw new ScenarioError(file, formatZodIssues(parsed.error));
  const s = parsed.data;
  const dir = dirname(file);
  const steps: CallStep[] = s.steps.map((step) => (step.wav && !isAbsolute(step.wav) ? { ...step, wav: resolve(dir, step.wav) } : step));
  return { ...s, name: s.name ?? basename(file, extname(file)), file, steps };
}

export async function loadScenario(file: string, env: Readonly<Record<string, string | undefined>> = process.env): Promise<Scenario> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new ScenarioError(file, `cannot read scenario: ${(err as Error).message}`);
  }
  return parseScenario(file, text, env);
}
