/** `GET /v1/usage` — a tenant's consumption today (since 00:00 UTC) against its quotas. */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { tenantUsageToday } from '../../quotas/usage.js';
import type { Store } from '../../store/store.js';
import type { TenantConfig } from '../../tenants/schema.js';
import { defineRoute, tenantIdOf } from '../route.js';
import { tenantFor } from './calls.js';

const line = z.object({ used: z.number(), limit: z.number().nullable() });

export const apiUsageSchema = z.object({
  tenantId: z.string(),
  since: z.string(),
  resetsAt: z.string(),
  calls: line,
  minutes: line,
  cost: line.extend({ currency: z.string() }),
  concurrentCalls: line,
}).meta({ id: 'Usage' });

export interface UsageRouteDeps {
  readonly store: Store;
  readonly tenants: { get(id: string): TenantConfig | undefined };
  readonly now?: () => number;
}

export function registerUsageRoutes(app: FastifyInstance, deps: UsageRouteDeps): void {
  const now = deps.now ?? Date.now;
  defineRoute(
    app,
    {
      method: 'GET',
      path: '/usage',
      operationId: 'getUsage',
      summary: 'Usage today against quotas',
      description: 'Calls, minutes and cost since 00:00 UTC and calls live now, each with its quota (null: no limit). The admin key names the tenant with `?tenantId=`.',
      tags: ['Usage'],
      access: 'tenant',
      responses: { 200: { description: 'Usage', schema: apiUsageSchema }, 404: { description: '`not_found`: unknown tenant' } },
    },
    async (ctx) => tenantUsageToday(deps.store, tenantFor(deps, tenantIdOf(ctx)), now()),
  );
}
