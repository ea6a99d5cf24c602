/**
 * How tenants, agents and phone numbers look in API requests and responses. Requests take the
 * tenant-file schema itself (one source of truth for files and the API); responses show the
 * parsed configuration (defaults applied, `agent` folded into `agents`, numbers resolved to an
 * agent) with every secret redacted. Named schemas (`.meta({ id })`) become shared components of
 * the OpenAPI document and named types of the SDK.
 */
import { z } from 'zod';
import type { TenantRecord, TenantService } from '../../tenants/tenant-service.js';
import { redactAgent, redactTenant } from '../../tenants/redact.js';
import {
  type AgentConfig,
  type TenantConfig,
  BUILTIN_TOOLS,
  WEBHOOK_EVENTS,
  agentSchema,
  httpToolSchema,
  pricesSchema,
  providerSpecSchema,
  quotasSchema,
  tenantSchema,
} from '../../tenants/schema.js';
import { ApiError } from '../errors.js';
import { tenantIdOf } from '../route.js';

/** Request body of POST /tenants and PUT /tenants/:id: a tenant file, as JSON. */
export const tenantDocumentSchema = tenantSchema.meta({
  id: 'TenantDocument',
  description: 'A tenant file as JSON (see docs/tenants.md): `agent` and/or `agents`, `phoneNumbers` as E.164 strings or `{ number, agent }`.',
});

/** Request body of PUT /agents/:agentId: one agent as written in a tenant file. */
export const agentDocumentSchema = agentSchema.meta({ id: 'AgentDocument', description: 'One agent, as written under `agents.<id>` in a tenant file.' });

/** Same rule as agent ids in tenants/schema.ts. */
export const agentIdSchema = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'lowercase letters, digits, _ and -');
export const tenantIdSchema = z.string().min(1).max(64);
export const e164Schema = z.string().regex(/^\+[1-9]\d{6,14}$/, 'must be an E.164 number like +15550100000');

const REDACTED_NOTE = 'Redacted: "••••" + the last 4 characters.';

/** Secrets in responses are redacted, so they carry none of the input's length rules. */
const httpToolViewSchema = httpToolSchema.extend({
  secret: z.string().optional().describe(REDACTED_NOTE),
  headers: z.record(z.string(), z.string()).optional().describe(`Values ${REDACTED_NOTE.toLowerCase()}`),
});

/** A parsed agent: provider lists always arrays, transfer targets always objects, secrets redacted. */
export const agentConfigSchema = agentSchema
  .extend({
    tools: z.array(z.union([z.strictObject({ type: z.enum(BUILTIN_TOOLS) }), httpToolViewSchema])),
    stt: z.array(providerSpecSchema),
    llm: z.array(providerSpecSchema),
    tts: z.array(providerSpecSchema),
    transferTargets: z
      .record(z.string(), z.object({ to: z.string(), mode: z.enum(['cold', 'warm']), description: z.string().optional() }))
      .optional(),
  })
  .meta({ id: 'AgentConfig', description: 'An agent with defaults applied; credentials are redacted ("••••" + last 4 characters).' });

export const phoneNumberSchema = z
  .object({ number: z.string(), agentId: z.string().describe('The agent that answers calls to this number.') })
  .meta({ id: 'PhoneNumber' });

export const agentViewSchema = z
  .object({
    id: z.string(),
    /** Outbound calls and numbers without an explicit agent use the default agent. */
    isDefault: z.boolean().describe('True for the agent numbers without an explicit agent (and outbound calls without agentId) use.'),
    phoneNumbers: z.array(z.string()).describe('Numbers routed to this agent.'),
    config: agentConfigSchema,
  })
  .meta({ id: 'Agent' });

export const tenantViewSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    source: z.enum(['file', 'api']).describe('`file`: defined in the server\'s tenants directory, read-only through the API. `api`: created through the API.'),
    createdAt: z.string().nullable().describe('ISO time; null for file tenants.'),
    updatedAt: z.string().nullable(),
    defaultAgentId: z.string(),
    agents: z.record(z.string(), agentConfigSchema),
    phoneNumbers: z.array(phoneNumberSchema),
    twilio: z.object({ authToken: z.string().optional().describe(REDACTED_NOTE), accountSid: z.string().optional() }).optional(),
    quotas: quotasSchema,
    prices: pricesSchema,
    webhooks: z.array(z.object({ url: z.string(), secret: z.string().describe(REDACTED_NOTE), events: z.array(z.enum(WEBHOOK_EVENTS)) })),
    recordings: z.object({ retentionDays: z.number().int() }),
    network: z.object({ allowPrivateAddresses: z.boolean() }),
  })
  .meta({ id: 'Tenant', description: 'A tenant\'s parsed configuration; secrets are redacted ("••••" + last 4 characters).' });

export type TenantView = z.output<typeof tenantViewSchema>;
export type AgentView = z.output<typeof agentViewSchema>;

const isoOrNull = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

/** A tenant record as the API returns it, secrets redacted. */
export function toTenantView(r: TenantRecord): TenantView {
  const t = redactTenant(r.tenant);
  return {
    id: t.id,
    name: t.name,
    source: r.source,
    createdAt: isoOrNull(r.createdAtMs),
    updatedAt: isoOrNull(r.updatedAtMs),
    defaultAgentId: t.defaultAgentId,
    agents: t.agents,
    phoneNumbers: t.phoneNumbers.map((p) => ({ number: p.number, agentId: p.agentId })),
    ...(t.twilio !== undefined ? { twilio: t.twilio } : {}),
    quotas: t.quotas,
    prices: t.prices,
    webhooks: t.webhooks,
    recordings: t.recordings,
    network: t.network,
  };
}

/** One agent of a tenant as the API returns it, secrets redacted. */
export function toAgentView(tenant: TenantConfig, agentId: string, agent: AgentConfig): AgentView {
  return {
    id: agentId,
    isDefault: tenant.defaultAgentId === agentId,
    phoneNumbers: tenant.phoneNumbers.filter((p) => p.agentId === agentId).map((p) => p.number),
    config: redactAgent(agent),
  };
}

/**
 * The tenant a `tenant`-access request acts for (tenantIdOf), which must exist: an admin naming
 * an unknown tenant gets 404, like a tenant key asking for another tenant's resource.
 */
export function actingTenant(ctx: Parameters<typeof tenantIdOf>[0], tenants: Pick<TenantService, 'get'>): TenantRecord {
  const id = tenantIdOf(ctx);
  const record = tenants.get(id);
  if (record === undefined) throw new ApiError('not_found', { message: `Tenant ${id} not found` });
  return record;
}
