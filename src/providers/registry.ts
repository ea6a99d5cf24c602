import { z } from 'zod';
import { FlowAgent } from '../agents/flow/flow-agent.js';
import type { AgentConfig, ProviderSpec } from '../tenants/schema.js';
import { PocketsphinxStt } from './stt/pocketsphinx.js';
import type { PocketsphinxEngine } from './stt/pocketsphinx-engine.js';
import { EspeakTts } from './tts/espeak.js';
import type { LlmProvider, SttProvider, TtsProvider } from './types.js';

/** Process-wide engines shared by every call (decoder pools and the like). */
export interface SharedEngines {
  readonly pocketsphinx: () => PocketsphinxEngine;
}

export interface CallProviders {
  readonly stt: SttProvider;
  readonly llm: LlmProvider;
  readonly tts: TtsProvider;
}

interface BuildContext {
  readonly engines: SharedEngines;
  readonly agent: AgentConfig;
  /** Call variables (caller number, stream custom parameters) for templating. */
  readonly variables: Record<string, string>;
}

type Kind = 'stt' | 'llm' | 'tts';
type ProviderOf<K extends Kind> = K extends 'stt' ? SttProvider : K extends 'llm' ? LlmProvider : TtsProvider;

interface ProviderDefinition<K extends Kind, O> {
  readonly options: z.ZodType<O>;
  create(options: O, ctx: BuildContext): ProviderOf<K>;
}

/** Erases the options type once the schema and factory have been checked against each other. */
function define<K extends Kind, O>(d: ProviderDefinition<K, O>): ProviderDefinition<K, unknown> {
  return d as ProviderDefinition<K, unknown>;
}

/** Every provider this build knows, with the schema of its options in the tenant file. */
const PROVIDERS = {
  stt: {
    pocketsphinx: define<'stt', object>({
      options: z.strictObject({}),
      create: (_o, ctx) => new PocketsphinxStt(ctx.engines.pocketsphinx()),
    }),
  },
  llm: {
    flow: define<'llm', object>({
      options: z.strictObject({}),
      create: (_o, ctx) => {
        if (!ctx.agent.flow) throw new Error('agent.flow: required by the flow provider');
        return new FlowAgent(ctx.agent.flow, { variables: ctx.variables });
      },
    }),
  },
  tts: {
    espeak: define<'tts', { voice?: string; wordsPerMinute?: number; pitch?: number }>({
      options: z.strictObject({
        voice: z.string().regex(/^[A-Za-z0-9_+\-/]+$/, 'an espeak-ng voice name like en-us').optional(),
        wordsPerMinute: z.number().min(80).max(450).optional(),
        pitch: z.number().min(0).max(99).optional(),
      }),
      create: (o) => new EspeakTts(o),
    }),
  },
} as const;

/** A provider entry in a tenant file that cannot be used; the message names the field. */
export class ProviderConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProviderConfigError';
  }
}

function resolve<K extends Kind>(kind: K, spec: ProviderSpec, index: number): { def: ProviderDefinition<K, unknown>; options: unknown } {
  const table = PROVIDERS[kind] as Record<string, ProviderDefinition<K, unknown>>;
  const def = table[spec.provider];
  const field = `agent.${kind}[${index}]`;
  if (!def) throw new ProviderConfigError(`${field}.provider: unknown provider "${spec.provider}" (known: ${Object.keys(table).join(', ')})`);
  const { provider: _p, ...rest } = spec;
  const parsed = def.options.safeParse(rest);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ProviderConfigError(`${field}.${issue?.path.join('.') || '(options)'}: ${issue?.message ?? 'invalid'}`);
  }
  return { def, options: parsed.data };
}

/** Checks at start-up that every provider a tenant names exists and its options are valid. */
export function validateProviders(agent: AgentConfig): void {
  for (const kind of ['stt', 'llm', 'tts'] as const) agent[kind].forEach((spec, i) => resolve(kind, spec, i));
}

/**
 * Builds one call's providers from the tenant's agent config; credentials come from that config
 * only. Uses the preferred (first) provider of each chain.
 */
export function createCallProviders(agent: AgentConfig, engines: SharedEngines, variables: Record<string, string> = {}): CallProviders {
  const ctx: BuildContext = { engines, agent, variables };
  const build = <K extends Kind>(kind: K): ProviderOf<K> => {
    const spec = agent[kind][0];
    if (!spec) throw new ProviderConfigError(`agent.${kind}: empty provider list`);
    const { def, options } = resolve(kind, spec, 0);
    return def.create(options, ctx);
  };
  return { stt: build('stt'), llm: build('llm'), tts: build('tts') };
}
