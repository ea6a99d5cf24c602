import { z } from 'zod';
import { flowSchema } from '../agents/flow/schema.js';

/**
 * The tenant file: one business on this deployment, its numbers, and the agent that answers them.
 * The same schema validates tenant files on disk and (later) tenants created through the API.
 */

const e164 = z.string().regex(/^\+[1-9]\d{6,14}$/, 'must be an E.164 number like +15550100000');

/** One provider with its options; `provider` selects the implementation, the rest is its options. */
export const providerSpecSchema = z.looseObject({
  provider: z.string().min(1),
});
export type ProviderSpec = z.infer<typeof providerSpecSchema>;

/** A provider, or an ordered list of them: the fallback chain (first = preferred). */
const providerChainSchema = z
  .union([providerSpecSchema, z.array(providerSpecSchema).min(1)])
  .transform((v) => (Array.isArray(v) ? v : [v]));

export const endpointingSchema = z
  .object({
    /** Silence after speech that ends the caller's turn. */
    silenceMs: z.number().int().min(100).max(5000).default(600),
    /** Speech shorter than this does not open a turn (clicks, coughs). */
    minSpeechMs: z.number().int().min(20).max(2000).default(100),
    /** Caller speech this long while the agent talks interrupts the agent. */
    bargeInMs: z.number().int().min(40).max(3000).default(150),
    /** Set false to let the agent finish every reply regardless of caller speech. */
    bargeIn: z.boolean().default(true),
  })
  .prefault({});

export const agentSchema = z.object({
  /** Spoken as soon as the media stream starts. */
  greeting: z.string().min(1),
  systemPrompt: z.string().optional(),
  stt: providerChainSchema.default([{ provider: 'pocketsphinx' }]),
  llm: providerChainSchema.default([{ provider: 'flow' }]),
  tts: providerChainSchema.default([{ provider: 'espeak' }]),
  /** energy: adaptive-energy detector (~0.5 µs/frame); silero: Silero v4 neural model via onnxruntime (~0.25 ms per 32 ms). */
  vad: z.enum(['energy', 'silero']).default('energy'),
  endpointing: endpointingSchema,
  /** Hang up when the caller has said nothing for this long (agent asks once before). */
  maxSilenceMs: z.number().int().min(1000).default(30_000),
  /** Hard cap on call length. */
  maxDurationMs: z.number().int().min(10_000).default(30 * 60_000),
  /** Scripted dialog for the `flow` LLM provider. */
  flow: flowSchema.optional(),
  /**
   * Named destinations an LLM agent may transfer calls to (offered as the transfer_call tool).
   * A transfer anywhere else is refused: a model must never pick an arbitrary number to dial.
   */
  transferTargets: z
    .record(
      z.string().regex(/^[a-z0-9_-]{1,40}$/, 'lowercase letters, digits, _ and -'),
      z.string().regex(/^(\+[1-9]\d{6,14}|sips?:[^@\s]+@[^@\s]+)$/, 'an E.164 number or a sip: URI'),
    )
    .optional(),
});

export const tenantSchema = z
  .object({
    id: z.string().regex(/^[a-z0-9][a-z0-9-]{1,62}$/, 'lowercase letters, digits and dashes'),
    name: z.string().min(1),
    phoneNumbers: z.array(e164).min(1),
    twilio: z
      .object({
        /** When set, every Twilio webhook for this tenant must carry a valid X-Twilio-Signature. */
        authToken: z.string().min(1).optional(),
        /** Needed for REST actions on live calls (transfer). */
        accountSid: z.string().regex(/^AC[0-9a-fA-F]{32}$/).optional(),
      })
      .optional(),
    agent: agentSchema,
  })
  .superRefine((t, ctx) => {
    const usesFlow = t.agent.llm.some((p) => p.provider === 'flow');
    if (usesFlow && !t.agent.flow) {
      ctx.addIssue({ code: 'custom', path: ['agent', 'flow'], message: 'required when agent.llm uses the flow provider' });
    }
  });

export type TenantConfig = z.infer<typeof tenantSchema>;
export type AgentConfig = TenantConfig['agent'];
export type EndpointingConfig = AgentConfig['endpointing'];
