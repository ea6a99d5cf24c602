/**
 * `/v1/tenants` — tenants managed through the API. Admins create, replace and delete API tenants
 * and see every tenant (file tenants too, marked `source: 'file'` and read-only); a tenant key
 * sees only its own tenant. Another tenant is indistinguishable from a missing one (404).
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { TenantService } from '../../tenants/tenant-service.js';
import { ApiError } from '../errors.js';
import { defineRoute } from '../route.js';
import { tenantDocumentSchema, tenantIdSchema, tenantViewSchema, toTenantView } from './tenant-views.js';

const tenantParams = z.object({ id: tenantIdSchema });
const TAGS = ['Tenants'];

export function registerTenantRoutes(app: FastifyInstance, deps: { tenants: TenantService }): void {
  const { tenants } = deps;

  defineRoute(
    app,
    {
      method: 'POST',
      path: '/tenants',
      operationId: 'createTenant',
      summary: 'Create a tenant',
      description:
        'Admin key only. The body is a tenant file as JSON, validated exactly like a file (schema and provider options). Its phone numbers start routing to it at once. `${NAME}` references are not expanded for API tenants.',
      tags: TAGS,
      access: 'admin',
      body: tenantDocumentSchema,
      responses: {
        201: { description: 'The tenant, secrets redacted', schema: tenantViewSchema },
        409: { description: '`conflict`: the id is taken (by a file or API tenant) or a number is routed by another tenant' },
      },
    },
    // The raw body is stored (input form, as given); the route's schema already validated it.
    async ({ request }) => toTenantView(await tenants.create(request.body)),
  );

  defineRoute(
    app,
    {
      method: 'GET',
      path: '/tenants',
      operationId: 'listTenants',
      summary: 'List tenants',
      description: 'Admin key: every tenant, file tenants included (`source: "file"`). Tenant key: only its own tenant.',
      tags: TAGS,
      access: 'any',
      responses: { 200: { description: 'Tenants by id', schema: z.object({ data: z.array(tenantViewSchema) }) } },
    },
    ({ principal }) => {
      const all = tenants.list();
      const visible = principal.kind === 'admin' ? all : all.filter((r) => r.tenant.id === principal.tenantId);
      return { data: visible.map(toTenantView) };
    },
  );

  defineRoute(
    app,
    {
      method: 'GET',
      path: '/tenants/:id',
      operationId: 'getTenant',
      summary: 'Get a tenant',
      description: 'Admin key: any tenant. Tenant key: only its own id; any other id is 404.',
      tags: TAGS,
      access: 'any',
      params: tenantParams,
      responses: { 200: { description: 'The tenant, secrets redacted', schema: tenantViewSchema }, 404: { description: 'No such tenant (or not yours)' } },
    },
    ({ params, principal }) => {
      const record = principal.kind === 'admin' || principal.tenantId === params.id ? tenants.get(params.id) : undefined;
      if (record === undefined) throw new ApiError('not_found', { message: `Tenant ${params.id} not found` });
      return toTenantView(record);
    },
  );

  defineRoute(
    app,
    {
      method: 'PUT',
      path: '/tenants/:id',
      operationId: 'replaceTenant',
      summary: 'Replace a tenant',
      description:
        'Admin key only. Replaces the whole tenant document (same schema as create; `id` must match the URL). Secrets must be sent in full: responses only show them redacted. File tenants are `read_only`.',
      tags: TAGS,
      access: 'admin',
      params: tenantParams,
      body: tenantDocumentSchema,
      responses: {
        200: { description: 'The tenant, secrets redacted', schema: tenantViewSchema },
        404: { description: 'No such tenant' },
        409: { description: '`read_only` (file tenant) or `conflict` (a number routed by another tenant)' },
      },
    },
    async ({ params, request }) => toTenantView(await tenants.replace(params.id, request.body)),
  );

  defineRoute(
    app,
    {
      method: 'DELETE',
      path: '/tenants/:id',
      operationId: 'deleteTenant',
      summary: 'Delete a tenant',
      description:
        'Admin key only. Its numbers stop routing at once and its API keys are revoked. Its call history and documents stay in the database. File tenants are `read_only`.',
      tags: TAGS,
      access: 'admin',
      params: tenantParams,
      responses: { 204: { description: 'Deleted' }, 404: { description: 'No such tenant' }, 409: { description: '`read_only`: a file tenant' } },
    },
    async ({ params }) => {
      await tenants.delete(params.id);
    },
  );
}
