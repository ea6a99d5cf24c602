/**
 * `/v1/agents` — the agents of the calling tenant (a tenant key's own; admins add `?tenantId=`).
 * Writes edit the tenant's stored document and revalidate it whole, so an agent is accepted
 * only if the tenant it makes is valid (providers included); the next call uses it.
 * File tenants are readable here but `read_only`.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { TenantService } from '../../tenants/tenant-service.js';
import { ApiError } from '../errors.js';
import { defineRoute } from '../route.js';
import { actingTenant, agentDocumentSchema, agentIdSchema, agentViewSchema, toAgentView } from './tenant-views.js';

const TAGS = ['Agents'];
const agentParams = z.object({ agentId: agentIdSchema });

export function registerAgentRoutes(app: FastifyInstance, deps: { tenants: TenantService }): void {
  const { tenants } = deps;

  defineRoute(
    app,
    {
      method: 'GET',
      path: '/agents',
      operationId: 'listAgents',
      summary: "List your tenant's agents",
      tags: TAGS,
      access: 'tenant',
      responses: { 200: { description: 'Agents by id, credentials redacted', schema: z.object({ data: z.array(agentViewSchema) }) } },
    },
    (ctx) => {
      const { tenant } = actingTenant(ctx, tenants);
      const ids = Object.keys(tenant.agents).sort();
      return { data: ids.map((id) => toAgentView(tenant, id, tenant.agents[id] as (typeof tenant.agents)[string])) };
    },
  );

  defineRoute(
    app,
    {
      method: 'GET',
      path: '/agents/:agentId',
      operationId: 'getAgent',
      summary: 'Get an agent',
      tags: TAGS,
      access: 'tenant',
      params: agentParams,
      responses: { 200: { description: 'The agent, credentials redacted', schema: agentViewSchema }, 404: { description: 'No such agent' } },
    },
    (ctx) => {
      const { tenant } = actingTenant(ctx, tenants);
      const agent = tenant.agents[ctx.params.agentId];
      if (agent === undefined) throw new ApiError('not_found', { message: `Agent ${ctx.params.agentId} not found` });
      return toAgentView(tenant, ctx.params.agentId, agent);
    },
  );

  defineRoute(
    app,
    {
      method: 'PUT',
      path: '/agents/:agentId',
      operationId: 'putAgent',
      summary: 'Create or replace an agent',
      description:
        'The body is one agent as written in a tenant file. The tenant is revalidated as a whole (e.g. a `flow` llm needs `flow`; provider options are checked). Credentials must be sent in full: responses only show them redacted. File tenants are `read_only`.',
      tags: TAGS,
      access: 'tenant',
      params: agentParams,
      body: agentDocumentSchema,
      responses: {
        200: { description: 'The agent as saved, credentials redacted', schema: agentViewSchema },
        409: { description: '`read_only`: a file tenant' },
      },
    },
    async (ctx) => {
      const { tenant } = actingTenant(ctx, tenants);
      const { record } = await tenants.putAgent(tenant.id, ctx.params.agentId, ctx.request.body);
      const saved = record.tenant.agents[ctx.params.agentId];
      if (saved === undefined) throw new ApiError('internal', { message: 'The agent was not saved' });
      return toAgentView(record.tenant, ctx.params.agentId, saved);
    },
  );

  defineRoute(
    app,
    {
      method: 'DELETE',
      path: '/agents/:agentId',
      operationId: 'deleteAgent',
      summary: 'Delete an agent',
      description:
        "Refused with `conflict` while a number routes to the agent, while it is the tenant's explicit `defaultAgent`, or when it is the tenant's only agent. File tenants are `read_only`.",
      tags: TAGS,
      access: 'tenant',
      params: agentParams,
      responses: { 204: { description: 'Deleted' }, 404: { description: 'No such agent' }, 409: { description: '`conflict` or `read_only`' } },
    },
    async (ctx) => {
      const { tenant } = actingTenant(ctx, tenants);
      await tenants.deleteAgent(tenant.id, ctx.params.agentId);
    },
  );
}
