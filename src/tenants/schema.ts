import { z } from 'zod';
import { flowSchema, flowToolNames } from '../agents/flow/schema.js';

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
    /**
     * 0: `bargeInMs` of caller speech stops the agent at once (a backchannel pauses it; it then
     * resumes). N ≥ 1: the agent talks on through caller speech until the transcript holds N words
     * that are not backchannels (nor its own words coming back), or the caller has spoken longer
     * than a backchannel lasts (900 ms): backchannels are never heard as interruptions, at the cost
     * of a slower stop (the STT's partial-transcript delay).
     */
    interruptMinWords: z.number().int().min(0).max(10).default(0),
    /**
     * Read the transcript while the caller talks: wait `incompleteSilenceMs` when the words so far
     * are clearly unfinished ("my number is four five…"), end after `completeSilenceMs` when they
     * are clearly complete ("no thanks, goodbye"); `silenceMs` otherwise.
     */
    adaptive: z.boolean().default(true),
    incompleteSilenceMs: z.number().int().min(100).max(5000).default(1300),
    completeSilenceMs: z.number().int().min(100).max(5000).default(350),
    /** Said over the agent, these do not interrupt it: it resumes where it stopped. Compared whole, case-insensitive. */
    backchannels: z
      .array(z.string().min(1))
      .default(['yeah', 'yes', 'yep', 'uh-huh', 'uh huh', 'mhm', 'mm-hmm', 'mm', 'hmm', 'okay', 'ok', 'right', 'sure', 'alright', 'all right', 'i see', 'got it', 'cool']),
    /**
     * Silence that ends a caller's turn that interrupted the agent while it may still be a backchannel
     * (no words yet, or only backchannels, and short): the agent goes on this soon after an "uh-huh".
     */
    backchannelSilenceMs: z.number().int().min(100).max(5000).default(300),
    /** An interruption that has produced no words after this long is taken back: the agent resumes. */
    resumeAfterMs: z.number().int().min(200).max(10_000).default(1500),
    /**
     * The caller starting again within this long of the end of their turn, over the agent's answer to it,
     * with words (not a backchannel), was not finished: the answer's false start is dropped and the two
     * parts are answered as one turn ("do you have parking … for a large van"). 0: such speech is an
     * interruption like any other, and the afterthought is answered on its own.
     */
    continuationWindowMs: z.number().int().min(0).max(5000).default(1000),
  })
  .prefault({});

const agentId = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'lowercase letters, digits, _ and -');
const toolName = z.string().regex(/^[a-zA-Z][a-zA-Z0-9_]{0,63}$/, 'letters, digits and _, starting with a letter');
const transferDestination = z.string().regex(/^(\+[1-9]\d{6,14}|sips?:[^@\s]+@[^@\s]+)$/, 'an E.164 number or a sip: URI');

/** A named transfer destination: a number (cold transfer) or one with options. */
const transferTargetSchema = z
  .union([
    transferDestination,
    z.strictObject({
      to: transferDestination,
      /** warm: the person answering first hears a briefing (the agent's summary), then the caller is connected. */
      mode: z.enum(['cold', 'warm']).default('cold'),
      /** Shown to the model to choose between destinations. */
      description: z.string().max(500).optional(),
    }),
  ])
  .transform((v) => (typeof v === 'string' ? { to: v, mode: 'cold' as const } : v));

/**
 * A tenant-defined function: Parley POSTs the model's arguments as JSON to `url` with an HMAC
 * signature and gives the JSON answer back to the model.
 */
export const httpToolSchema = z.strictObject({
  type: z.literal('http'),
  name: toolName,
  description: z.string().min(1).max(1000),
  /** JSON Schema of the arguments object. */
  parameters: z.record(z.string(), z.unknown()).default({ type: 'object', properties: {} }),
  url: z.url({ protocol: /^https?$/ }),
  /** Signs the body: header X-Parley-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">. */
  secret: z.string().min(16).optional(),
  timeoutMs: z.number().int().min(100).max(30_000).default(5_000),
  headers: z.record(z.string(), z.string()).optional(),
});

/** Built-in tools an agent may enable. end_call is always on; transfer_call follows transferTargets. */
export const BUILTIN_TOOLS = ['send_sms', 'schedule_callback', 'caller_history', 'search_knowledge', 'send_dtmf'] as const;
export type BuiltinToolName = (typeof BUILTIN_TOOLS)[number];

export const agentToolSchema = z.union([
  z.strictObject({ type: z.enum(BUILTIN_TOOLS) }),
  httpToolSchema,
]);

export const agentSchema = z.object({
  /** Shown in the API and dashboards. */
  name: z.string().min(1).max(200).optional(),
  /** Spoken as soon as the media stream starts. */
  greeting: z.string().min(1),
  systemPrompt: z.string().optional(),
  stt: providerChainSchema.default([{ provider: 'pocketsphinx' }]),
  llm: providerChainSchema.default([{ provider: 'flow' }]),
  tts: providerChainSchema.default([{ provider: 'espeak' }]),
  /** energy: adaptive-energy detector (~0.5 µs/frame); silero: Silero v4 neural model via onnxruntime (~0.25 ms per 32 ms). */
  vad: z.enum(['energy', 'silero']).default('energy'),
  /** Remove the agent's own voice from the caller's audio (speakerphones) before voice detection. */
  echoSuppression: z.boolean().default(true),
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
  transferTargets: z.record(z.string().regex(/^[a-z0-9_-]{1,40}$/, 'lowercase letters, digits, _ and -'), transferTargetSchema).optional(),
  /** Tools beyond end_call/transfer_call: built-ins by type, and HTTP tools. */
  tools: z.array(agentToolSchema).default([]),
  /** Said when a tool has not answered after `afterMs`, so the caller never hears dead air. */
  filler: z
    .object({ afterMs: z.number().int().min(200).max(10_000).default(1_500), phrases: z.array(z.string().min(1)).min(1).default(['One moment, please.']) })
    .prefault({}),
  /** Key presses: collected until the terminator, maxDigits, or a pause, then given to the agent as one turn. */
  dtmf: z
    .object({
      interDigitTimeoutMs: z.number().int().min(200).max(10_000).default(1_500),
      terminator: z.enum(['#', '*', 'none']).default('#'),
      maxDigits: z.number().int().min(1).max(32).default(16),
    })
    .prefault({}),
  /** Record the call as a stereo WAV (caller left, agent right). Off by default. */
  recording: z.boolean().default(false),
  /** After the call, with the agent's LLM (not the flow provider): a summary and structured data. */
  analysis: z
    .object({
      summary: z.boolean().default(true),
      /** JSON Schema (type object) of the data to extract from the transcript. */
      extractionSchema: z.record(z.string(), z.unknown()).optional(),
    })
    .prefault({}),
});

/** A phone number routed to one of the tenant's agents (the default agent when omitted). */
const phoneNumberSchema = z.union([e164, z.strictObject({ number: e164, agent: agentId.optional() })]);

/** Daily limits count from 00:00 UTC. */
export const quotasSchema = z
  .object({
    maxConcurrentCalls: z.number().int().min(0).optional(),
    dailyCalls: z.number().int().min(0).optional(),
    dailyMinutes: z.number().min(0).optional(),
    /** In `prices.currency`; compares the cost of today's calls before answering another. */
    dailyBudget: z.number().min(0).optional(),
    /** Heard by a caller when a limit is reached, before the call ends. */
    message: z.string().min(1).default("We're sorry, we can't take your call right now. Please try again later."),
  })
  .prefault({});

/** Unit prices for the cost of a call; all default to 0 (the embedded providers cost nothing). */
export const pricesSchema = z
  .object({
    currency: z.string().regex(/^[A-Z]{3}$/).default('USD'),
    carrierPerMinute: z.number().min(0).default(0),
    sttPerMinute: z.number().min(0).default(0),
    llmInputPer1kTokens: z.number().min(0).default(0),
    llmOutputPer1kTokens: z.number().min(0).default(0),
    ttsPer1kChars: z.number().min(0).default(0),
  })
  .prefault({});

export const WEBHOOK_EVENTS = ['call.started', 'call.ended', 'tool.called'] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENTS)[number];

export const webhookSchema = z.strictObject({
  url: z.url({ protocol: /^https?$/ }),
  /** HMAC-SHA256 key for the X-Parley-Signature header. */
  secret: z.string().min(16),
  events: z.array(z.enum(WEBHOOK_EVENTS)).min(1).default([...WEBHOOK_EVENTS]),
});

const tenantObject = z.object({
  id: z.string().regex(/^[a-z0-9][a-z0-9-]{1,62}$/, 'lowercase letters, digits and dashes'),
  name: z.string().min(1),
  /** Strings route to the default agent; objects name the agent. */
  phoneNumbers: z.array(phoneNumberSchema).default([]),
  /** The default agent (id `default`), for single-agent tenants. */
  agent: agentSchema.optional(),
  /** Several agents by id. */
  agents: z.record(agentId, agentSchema).optional(),
  /** Which agent numbers without an explicit agent (and outbound calls without agentId) use. */
  defaultAgent: agentId.optional(),
  twilio: z
    .object({
      /** When set, every Twilio webhook for this tenant must carry a valid X-Twilio-Signature. */
      authToken: z.string().min(1).optional(),
      /** Needed for REST actions (transfer, outbound calls, SMS, hangup). */
      accountSid: z.string().regex(/^AC[0-9a-fA-F]{32}$/).optional(),
    })
    .optional(),
  quotas: quotasSchema,
  prices: pricesSchema,
  webhooks: z.array(webhookSchema).default([]),
  recordings: z.object({ retentionDays: z.number().int().min(1).max(3650).default(30) }).prefault({}),
  /**
   * HTTP tools and webhooks refuse private, loopback and link-local addresses (SSRF) unless this
   * is true — for tenants whose systems live on the same private network.
   */
  network: z.object({ allowPrivateAddresses: z.boolean().default(false) }).prefault({}),
});

/** The document a tenant file (or POST /v1/tenants) holds, before defaults. */
export type TenantInput = z.input<typeof tenantObject>;

export interface PhoneNumberRoute {
  number: string;
  agentId: string;
}

export const DEFAULT_AGENT_ID = 'default';

export const tenantSchema = tenantObject
  .superRefine((t, ctx) => {
    if (t.agent && t.agents?.[DEFAULT_AGENT_ID]) {
      ctx.addIssue({ code: 'custom', path: ['agents', DEFAULT_AGENT_ID], message: 'conflicts with `agent` (which is the default agent)' });
    }
    const agents: Record<string, z.infer<typeof agentSchema>> = { ...(t.agents ?? {}), ...(t.agent ? { [DEFAULT_AGENT_ID]: t.agent } : {}) };
    const ids = Object.keys(agents);
    if (ids.length === 0) ctx.addIssue({ code: 'custom', path: ['agent'], message: 'a tenant needs `agent` or at least one entry in `agents`' });
    if (t.defaultAgent && !agents[t.defaultAgent]) ctx.addIssue({ code: 'custom', path: ['defaultAgent'], message: `unknown agent "${t.defaultAgent}"` });
    const seen = new Set<string>();
    t.phoneNumbers.forEach((p, i) => {
      const number = typeof p === 'string' ? p : p.number;
      if (seen.has(number)) ctx.addIssue({ code: 'custom', path: ['phoneNumbers', i], message: `${number} is listed twice` });
      seen.add(number);
      if (typeof p !== 'string' && p.agent && !agents[p.agent]) {
        ctx.addIssue({ code: 'custom', path: ['phoneNumbers', i, 'agent'], message: `unknown agent "${p.agent}"` });
      }
    });
    for (const [id, a] of Object.entries(agents)) {
      const base = t.agent && id === DEFAULT_AGENT_ID ? ['agent'] : ['agents', id];
      const usesFlow = a.llm.some((p) => p.provider === 'flow');
      if (usesFlow && !a.flow) ctx.addIssue({ code: 'custom', path: [...base, 'flow'], message: 'required when agent.llm uses the flow provider' });
      const names = new Set<string>();
      a.tools.forEach((tool, i) => {
        const name = tool.type === 'http' ? tool.name : tool.type;
        if (names.has(name) || name === 'end_call' || name === 'transfer_call') {
          ctx.addIssue({ code: 'custom', path: [...base, 'tools', i], message: `tool "${name}" is defined twice or shadows a built-in` });
        }
        names.add(name);
      });
      for (const n of flowToolNames(a.flow)) {
        if (!names.has(n)) ctx.addIssue({ code: 'custom', path: [...base, 'flow'], message: `the flow uses tool "${n}"; enable it in tools` });
      }
    }
  })
  .transform((t) => {
    const { agent, agents: named, phoneNumbers, defaultAgent, ...rest } = t;
    const agents: Record<string, z.infer<typeof agentSchema>> = { ...(named ?? {}), ...(agent ? { [DEFAULT_AGENT_ID]: agent } : {}) };
    const fallbackAgent = defaultAgent ?? (agent ? DEFAULT_AGENT_ID : (Object.keys(agents)[0] as string));
    const numbers: PhoneNumberRoute[] = phoneNumbers.map((p) =>
      typeof p === 'string' ? { number: p, agentId: fallbackAgent } : { number: p.number, agentId: p.agent ?? fallbackAgent },
    );
    return { ...rest, agents, defaultAgentId: fallbackAgent, phoneNumbers: numbers };
  });

export type TenantConfig = z.output<typeof tenantSchema>;
export type AgentConfig = z.output<typeof agentSchema>;
export type EndpointingConfig = AgentConfig['endpointing'];
export type HttpToolConfig = z.output<typeof httpToolSchema>;
export type TransferTarget = NonNullable<AgentConfig['transferTargets']>[string];
export type WebhookConfig = z.output<typeof webhookSchema>;

/** The agent `agentId` names, or the tenant's default agent when omitted. */
export function agentOf(t: TenantConfig, agentId?: string | null): AgentConfig | undefined {
  return t.agents[agentId ?? t.defaultAgentId];
}
