/**
 * Tenant API keys. A key (`pk_…`) is returned once, when created; the server keeps only its
 * SHA-256 digest and its first characters (`prefix`) to tell keys apart. Admins manage any
 * tenant's keys under `/tenants/:id/api-keys` (file tenants included); a tenant key manages its
 * own tenant's keys under `/api-keys`. Revocation takes effect on the next request.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { ApiKeyRow, ApiKeysRepo } from '../../store/store.js';
import type { TenantService } from '../../tenants/tenant-service.js';
import { generateTenantKey } from '../auth.js';
import { ApiError } from '../errors.js';
import { defineRoute } from '../route.js';
import { actingTenant, tenantIdSchema } from './tenant-views.js';

export interface ApiKeyRoutesDeps {
  apiKeys: Pick<ApiKeysRepo, 'create' | 'list' | 'revoke'>;
  tenants: Pick<TenantService, 'get'>;
  now?: () => number;
}

const TAGS = ['API keys'];

const createKeyBody = z.object({ name: z.string().max(200).optional().describe('A label, e.g. the integration using the key.') });

export const apiKeySchema = z
  .object({
    id: z.string(),
    name: z.string(),
    prefix: z.string().describe('The first 10 characters of the key, to recognise it.'),
    createdAt: z.string(),
    lastUsedAt: z.string().nullable().describe('Updated at most once a minute.'),
    revokedAt: z.string().nullable(),
  })
  .meta({ id: 'ApiKey', description: 'A tenant API key, without the key itself.' });

export const createdApiKeySchema = z
  .object({
    id: z.string(),
    key: z.string().describe('The key. Shown only in this response: store it now.'),
    name: z.string(),
    prefix: z.string(),
    createdAt: z.string(),
  })
  .meta({ id: 'CreatedApiKey' });

const iso = (ms: number): string => new Date(ms).toISOString();
const isoOrNull = (ms: number | null): string | null => (ms === null ? null : iso(ms));

function toApiKey(k: ApiKeyRow): z.output<typeof apiKeySchema> {
  return { id: k.id, name: k.name, prefix: k.prefix, createdAt: iso(k.createdAtMs), lastUsedAt: isoOrNull(k.lastUsedAtMs), revokedAt: isoOrNull(k.revokedAtMs) };
}

export function registerApiKeyRoutes(app: FastifyInstance, deps: ApiKeyRoutesDeps): void {
  const now = deps.now ?? Date.now;

  const existingTenant = (id: string): string => {
    if (deps.tenants.get(id) === undefined) throw new ApiError('not_found', { message: `Tenant ${id} not found` });
    return id;
  };
  const create = async (tenantId: string, name: string | undefined): Promise<z.output<typeof createdApiKeySchema>> => {
    const { key, keySha256Hex, prefix } = generateTenantKey();
    const row = await deps.apiKeys.create({ tenantId, name: name ?? '', prefix, keySha256Hex, nowMs: now() });
    return { id: row.id, key, name: row.name, prefix: row.prefix, createdAt: iso(row.createdAtMs) };
  };
  const list = async (tenantId: string) => ({ data: (await deps.apiKeys.list(tenantId)).map(toApiKey) });
  const revoke = async (tenantId: string, keyId: string): Promise<void> => {
    // A key of another tenant, an unknown key and an already revoked key all read as not found.
    if (!(await deps.apiKeys.revoke(tenantId, keyId, now()))) throw new ApiError('not_found', { message: `API key ${keyId} not found` });
  };

  const tenantParams = z.object({ id: tenantIdSchema });
  const keyParams = z.object({ keyId: z.string().min(1).max(128) });
  const listResponse = z.object({ data: z.array(apiKeySchema) });

  defineRoute(
    app,
    {
      method: 'POST',
      path: '/tenants/:id/api-keys',
      operationId: 'createTenantApiKey',
      summary: 'Create an API key for a tenant',
      description: 'Admin key only; works for file tenants too. The response holds the key, shown only once.',
      tags: TAGS,
      access: 'admin',
      params: tenantParams,
      body: createKeyBody,
      responses: { 201: { description: 'The new key', schema: createdApiKeySchema }, 404: { description: 'No such tenant' } },
    },
    ({ params, body }) => create(existingTenant(params.id), body.name),
  );

  defineRoute(
    app,
    {
      method: 'GET',
      path: '/tenants/:id/api-keys',
      operationId: 'listTenantApiKeys',
      summary: "List a tenant's API keys",
      description: 'Admin key only. Newest first, revoked keys included; never the key or its hash.',
      tags: TAGS,
      access: 'admin',
      params: tenantParams,
      responses: { 200: { description: 'Keys', schema: listResponse }, 404: { description: 'No such tenant' } },
    },
    ({ params }) => list(existingTenant(params.id)),
  );

  defineRoute(
    app,
    {
      method: 'DELETE',
      path: '/tenants/:id/api-keys/:keyId',
      operationId: 'revokeTenantApiKey',
      summary: "Revoke a tenant's API key",
      description: 'Admin key only. The key stops working on its next request.',
      tags: TAGS,
      access: 'admin',
      params: tenantParams.extend(keyParams.shape),
      responses: { 204: { description: 'Revoked' }, 404: { description: 'No such tenant, or no such active key' } },
    },
    ({ params }) => revoke(existingTenant(params.id), params.keyId),
  );

  defineRoute(
    app,
    {
      method: 'GET',
      path: '/api-keys',
      operationId: 'listApiKeys',
      summary: "List your tenant's API keys",
      tags: TAGS,
      access: 'tenant',
      responses: { 200: { description: 'Keys, newest first', schema: listResponse } },
    },
    (ctx) => list(actingTenant(ctx, deps.tenants).tenant.id),
  );

  defineRoute(
    app,
    {
      method: 'POST',
      path: '/api-keys',
      operationId: 'createApiKey',
      summary: 'Create an API key for your tenant',
      description: 'The response holds the key, shown only once.',
      tags: TAGS,
      access: 'tenant',
      body: createKeyBody,
      responses: { 201: { description: 'The new key', schema: createdApiKeySchema } },
    },
    (ctx) => create(actingTenant(ctx, deps.tenants).tenant.id, ctx.body.name),
  );

  defineRoute(
    app,
    {
      method: 'DELETE',
      path: '/api-keys/:keyId',
      operationId: 'revokeApiKey',
      summary: "Revoke one of your tenant's API keys",
      description: 'A key may revoke itself. The key stops working on its next request.',
      tags: TAGS,
      access: 'tenant',
      params: keyParams,
      responses: { 204: { description: 'Revoked' }, 404: { description: 'No such active key in your tenant' } },
    },
    (ctx) => revoke(actingTenant(ctx, deps.tenants).tenant.id, ctx.params.keyId),
  );
}
