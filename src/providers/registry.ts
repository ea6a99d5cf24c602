import { z } from 'zod';
import { FlowAgent } from '../agents/flow/flow-agent.js';
import type { AgentConfig, ProviderSpec } from '../tenants/schema.js';
import { DeepgramStt, deepgramSttOptionsSchema } from './stt/deepgram.js';
import { OpenAiStt, openAiSttOptionsSchema } from './stt/openai-stt.js';
import { PocketsphinxStt } from './stt/pocketsphinx.js';
import { AnthropicLlm, anthropicLlmOptionsSchema } from './llm/anthropic.js';
import { OpenAiLlm, openAiLlmOptionsSchema } from './llm/openai.js';
import type { PocketsphinxEngine } from './stt/pocketsphinx-engine.js';
import { AzureTts, azureTtsOptionsSchema } from './tts/azure.js';
import { ElevenLabsTts, elevenLabsTtsOptionsSchema } from './tts/elevenlabs.js';
import { EspeakTts } from './tts/espeak.js';
import { OpenAiTts, openAiTtsOptionsSchema } from './tts/openai-tts.js';
import type { CircuitBreakers } from './circuit-breaker.js';
import type { LlmProvider, SttProvider, TtsProvider } from './types.js';
import { type FallbackEntry, FallbackLlm, FallbackStt, type FallbackSwitch, FallbackTts } from './with-fallback.js';

/** Process-wide engines shared by every call (decoder pools and the like). */
export interface SharedEngines {
  readonly pocketsphinx: () => PocketsphinxEngine;
  /** Provider health shared by every call, for fallback chains. */
  readonly breakers: CircuitBreakers;
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
    deepgram: define<'stt', z.infer<typeof deepgramSttOptionsSchema>>({
      options: deepgramSttOptionsSchema,
      create: (o) => new DeepgramStt(o),
    }),
    openai: define<'stt', z.infer<typeof openAiSttOptionsSchema>>({
      options: openAiSttOptionsSchema,
      create: (o) => new OpenAiStt(o),
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
    openai: define<'llm', z.infer<typeof openAiLlmOptionsSchema>>({
      options: openAiLlmOptionsSchema,
      create: (o) => new OpenAiLlm(o),
    }),
    anthropic: define<'llm', z.infer<typeof anthropicLlmOptionsSchema>>({
      options: anthropicLlmOptionsSchema,
      create: (o) => new AnthropicLlm(o),
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
    elevenlabs: define<'tts', z.infer<typeof elevenLabsTtsOptionsSchema>>({
      options: elevenLabsTtsOptionsSchema,
      create: (o) => new ElevenLabsTts(o),
    }),
    openai: define<'tts', z.infer<typeof openAiTtsOptionsSchema>>({
      options: openAiTtsOptionsSchema,
      create: (o) => new OpenAiTts(o),
    }),
    azure: define<'tts', z.infer<typeof azureTtsOptionsSchema>>({
      options: azureTtsOptionsSchema,
      create: (o) => new AzureTts(o),
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

function resolve<K extends Kind>(kind: K, spec: ProviderSpec, index: number, base = 'agent'): { def: ProviderDefinition<K, unknown>; options: unknown } {
  const table = PROVIDERS[kind] as Record<string, ProviderDefinition<K, unknown>>;
  const def = table[spec.provider];
  const field = `${base}.${kind}[${index}]`;
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
export function validateProviders(agent: AgentConfig, field = 'agent'): void {
  for (const kind of ['stt', 'llm', 'tts'] as const) agent[kind].forEach((spec, i) => resolve(kind, spec, i, field));
}

/** Checks every agent of a tenant; errors name `agents.<id>.<kind>[i]`. */
export function validateTenantProviders(tenant: { agents: Readonly<Record<string, AgentConfig>> }): void {
  for (const [id, agent] of Object.entries(tenant.agents)) validateProviders(agent, `agents.${id}`);
}

/** Identifies a configured endpoint across calls for its circuit breaker; never includes credentials. */
function breakerKey(kind: Kind, spec: ProviderSpec): string {
  const o = spec as Record<string, unknown>;
  return [kind, spec.provider, o.baseUrl ?? '', o.model ?? '', o.voiceId ?? o.voice ?? ''].join('|');
}

/**
 * The agent's `kind` providers (those `keep` accepts), in chain order, each with its breaker key.
 * Errors name the entry's index in the agent's own list.
 */
function buildChain<K extends Kind>(kind: K, ctx: BuildContext, keep: (spec: ProviderSpec) => boolean = () => true): FallbackEntry<ProviderOf<K>>[] {
  return ctx.agent[kind].flatMap((spec, i) => {
    if (!keep(spec)) return [];
    const { def, options } = resolve(kind, spec, i);
    return [{ provider: def.create(options, ctx), key: breakerKey(kind, spec) }];
  });
}

/**
 * Builds one call's providers from the tenant's agent config; credentials come from that config
 * only. A list of more than one provider becomes a fallback chain that reports each switch.
 */
export function createCallProviders(
  agent: AgentConfig,
  engines: SharedEngines,
  variables: Record<string, string> = {},
  onSwitch?: (s: FallbackSwitch) => void,
): CallProviders {
  const ctx: BuildContext = { engines, agent, variables };
  const chain = <K extends Kind>(kind: K): FallbackEntry<ProviderOf<K>>[] => {
    if (agent[kind].length === 0) throw new ProviderConfigError(`agent.${kind}: empty provider list`);
    return buildChain(kind, ctx);
  };
  const fallback = { breakers: engines.breakers, onSwitch };
  const stt = chain('stt');
  const llm = chain('llm');
  const tts = chain('tts');
  return {
    stt: stt.length === 1 ? (stt[0] as FallbackEntry<SttProvider>).provider : new FallbackStt(stt, fallback),
    llm: llm.length === 1 ? (llm[0] as FallbackEntry<LlmProvider>).provider : new FallbackLlm(llm, fallback),
    tts: tts.length === 1 ? (tts[0] as FallbackEntry<TtsProvider>).provider : new FallbackTts(tts, fallback),
  };
}

/** After the call nobody is waiting on the line: a slow first token is not a reason to switch. */
const ANALYSIS_FIRST_TOKEN_TIMEOUT_MS = 15_000;

/**
 * The agent's language models without the scripted `flow` provider, as one chain — for work after
 * the call (summary, extraction). Undefined when the agent has no real model.
 */
export function createAnalysisLlm(agent: AgentConfig, engines: SharedEngines): LlmProvider | undefined {
  const entries = buildChain('llm', { engines, agent, variables: {} }, (spec) => spec.provider !== 'flow');
  if (entries.length === 0) return undefined;
  return entries.length === 1 ? (entries[0] as FallbackEntry<LlmProvider>).provider : new FallbackLlm(entries, { breakers: engines.breakers, firstOutputTimeoutMs: ANALYSIS_FIRST_TOKEN_TIMEOUT_MS });
}

/** The agent's TTS chain alone (greeting pre-synthesis at start-up). */
export function createTts(agent: AgentConfig, engines: SharedEngines): TtsProvider {
  const entries = buildChain('tts', { engines, agent, variables: {} });
  return entries.length === 1 ? (entries[0] as FallbackEntry<TtsProvider>).provider : new FallbackTts(entries, { breakers: engines.breakers });
}
