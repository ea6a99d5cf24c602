/**
 * `/v1/phone-numbers` — which of the tenant's agents answers each of its numbers. Changes reach
 * call routing at once: the next inbound call to a number uses the new agent (or, once removed,
 * hears "not in service"). A number another tenant routes is a `conflict`; its owner is never named.
 * Numbers in paths are E.164, URL-encoded (`%2B15550100000`; a literal `+` also works).
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { normalizeNumber } from '../../tenants/directory.js';
import type { TenantRecord, TenantService } from '../../tenants/tenant-service.js';
import { ApiError } from '../errors.js';
import { defineRoute } from '../route.js';
import { actingTenant, agentIdSchema, e164Schema, phoneNumberSchema } from './tenant-views.js';

const TAGS = ['Phone numbers'];
const numberParams = z.object({ number: e164Schema });

function routeOf(record: TenantRecord, number: string): z.output<typeof phoneNumberSchema> {
  const r = record.tenant.phoneNumbers.find((p) => normalizeNumber(p.number) === normalizeNumber(number));
  if (r === undefined) throw new ApiError('not_found', { message: `${number} is not one of this tenant's numbers` });
  return { number: r.number, agentId: r.agentId };
}

export function registerPhoneNumberRoutes(app: FastifyInstance, deps: { tenants: TenantService }): void {
  const { tenants } = deps;

  defineRoute(
    app,
    {
      method: 'GET',
      path: '/phone-numbers',
      operationId: 'listPhoneNumbers',
      summary: "List your tenant's numbers and the agent answering each",
      tags: TAGS,
      access: 'tenant',
      responses: { 200: { description: 'Numbers', schema: z.object({ data: z.array(phoneNumberSchema) }) } },
    },
    (ctx) => ({ data: actingTenant(ctx, tenants).tenant.phoneNumbers.map((p) => ({ number: p.number, agentId: p.agentId })) }),
  );

  defineRoute(
    app,
    {
      method: 'POST',
      path: '/phone-numbers',
      operationId: 'addPhoneNumber',
      summary: 'Route a number to an agent',
      description:
        "Adds a number to your tenant, answered by `agentId` (default: the tenant's default agent). Point the number's voice webhook at `POST /twilio/voice` in Twilio. `conflict` when your tenant or another already routes it. File tenants are `read_only`.",
      tags: TAGS,
      access: 'tenant',
      body: z.object({ number: e164Schema, agentId: agentIdSchema.optional() }),
      responses: { 201: { description: 'The route', schema: phoneNumberSchema }, 409: { description: '`conflict` or `read_only`' } },
    },
    async (ctx) => {
      const { tenant } = actingTenant(ctx, tenants);
      return routeOf(await tenants.addNumber(tenant.id, ctx.body.number, ctx.body.agentId), ctx.body.number);
    },
  );

  defineRoute(
    app,
    {
      method: 'PUT',
      path: '/phone-numbers/:number',
      operationId: 'setPhoneNumberAgent',
      summary: 'Route a number to another agent',
      tags: TAGS,
      access: 'tenant',
      params: numberParams,
      body: z.object({ agentId: agentIdSchema }),
      responses: { 200: { description: 'The route', schema: phoneNumberSchema }, 404: { description: 'Not one of your numbers' } },
    },
    async (ctx) => {
      const { tenant } = actingTenant(ctx, tenants);
      return routeOf(await tenants.setNumberAgent(tenant.id, ctx.params.number, ctx.body.agentId), ctx.params.number);
    },
  );

  defineRoute(
    app,
    {
      method: 'DELETE',
      path: '/phone-numbers/:number',
      operationId: 'removePhoneNumber',
      summary: 'Stop routing a number',
      tags: TAGS,
      access: 'tenant',
      params: numberParams,
      responses: { 204: { description: 'Removed' }, 404: { description: 'Not one of your numbers' } },
    },
    async (ctx) => {
      const { tenant } = actingTenant(ctx, tenants);
      await tenants.removeNumber(tenant.id, ctx.params.number);
    },
  );
}
