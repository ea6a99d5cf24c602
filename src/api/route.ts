/**
 * Typed API routes with one source of truth: each route declares its zod schemas once; they
 * validate the request, type the handler, and generate the OpenAPI document (openapi.ts) and
 * from it the SDK. Every /v1 route is defined through `defineRoute`.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import { type Principal, principalOf } from './auth.js';
import { ApiError } from './errors.js';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/**
 * Who may call a route. `admin`: only the admin key. `tenant`: a tenant key (its own tenant) or
 * the admin key naming the tenant with `?tenantId=` (see tenantIdOf). `any`: any valid key.
 */
export type RouteAccess = 'admin' | 'tenant' | 'any';

export interface ResponseSpec {
  readonly description: string;
  /** JSON body schema; omit for empty (204) or non-JSON bodies. */
  readonly schema?: z.ZodType;
  /** Non-JSON body, e.g. audio/wav. */
  readonly contentType?: string;
}

export interface RouteSpec<P extends z.ZodType = z.ZodType, Q extends z.ZodType = z.ZodType, B extends z.ZodType = z.ZodType> {
  readonly method: HttpMethod;
  /** Fastify path inside /v1, e.g. `/calls/:id`. */
  readonly path: string;
  /** Stable name; the SDK method is named after it. */
  readonly operationId: string;
  readonly summary: string;
  readonly description?: string;
  readonly tags: readonly string[];
  readonly access: RouteAccess;
  readonly params?: P;
  readonly query?: Q;
  readonly body?: B;
  /** Status → response; the first 2xx is the success response. */
  readonly responses: Readonly<Record<number, ResponseSpec>>;
}

export interface RouteContext<P, Q, B> {
  readonly params: P;
  readonly query: Q;
  readonly body: B;
  readonly principal: Principal;
  readonly request: FastifyRequest;
  readonly reply: FastifyReply;
}

type Out<T> = T extends z.ZodType ? z.output<T> : undefined;

/** Routes defined so far, per Fastify root instance, for the OpenAPI document. */
const registries = new WeakMap<object, RouteSpec[]>();

/** The routes defined on `app` (or its root), in definition order. */
export function definedRoutes(app: FastifyInstance): readonly RouteSpec[] {
  return registries.get(rootOf(app)) ?? [];
}

function rootOf(app: FastifyInstance): object {
  // Encapsulated child instances share the root's server object.
  return app.server;
}

/** The prefix /v1 routes are mounted under (paths in RouteSpec are relative to it). */
export const API_PREFIX = '/v1';

/**
 * Registers a typed route on `app` (inside the /v1 scope, behind the auth hook). Params, query
 * and body are parsed with the route's schemas (a ZodError becomes `validation_failed`); the
 * handler's return value is sent as JSON with the first 2xx status of `responses`.
 */
export function defineRoute<P extends z.ZodType | undefined = undefined, Q extends z.ZodType | undefined = undefined, B extends z.ZodType | undefined = undefined>(
  app: FastifyInstance,
  spec: Omit<RouteSpec, 'params' | 'query' | 'body'> & { params?: P; query?: Q; body?: B },
  handler: (ctx: RouteContext<Out<P>, Out<Q>, Out<B>>) => Promise<unknown> | unknown,
): void {
  const root = rootOf(app);
  const list = registries.get(root) ?? [];
  registries.set(root, list);
  list.push(spec as RouteSpec);
  const success = Number(Object.keys(spec.responses).find((s) => Number(s) >= 200 && Number(s) < 300) ?? 200);
  app.route({
    method: spec.method,
    url: spec.path,
    handler: async (request, reply) => {
      const principal = principalOf(request);
      if (spec.access === 'admin' && principal.kind !== 'admin') throw new ApiError('forbidden', { message: 'This route needs the admin key' });
      const params = (spec.params ? spec.params.parse(request.params ?? {}) : undefined) as Out<P>;
      const query = (spec.query ? spec.query.parse(request.query ?? {}) : undefined) as Out<Q>;
      const body = (spec.body ? spec.body.parse(request.body ?? {}) : undefined) as Out<B>;
      const result = await handler({ params, query, body, principal, request, reply });
      // A handler that answered itself (streams, ranges) returns the reply or has sent it.
      if (reply.sent || result === reply) return reply;
      if (result === undefined) return reply.code(success === 200 ? 204 : success).send();
      return reply.code(success).send(result);
    },
  });
}

/**
 * The tenant a `tenant`-access request acts for: a tenant key's own tenant; with the admin key,
 * the `tenantId` query parameter (required: admins must say which tenant they act for).
 */
export function tenantIdOf(ctx: { principal: Principal; request: FastifyRequest }): string {
  if (ctx.principal.kind === 'tenant') return ctx.principal.tenantId;
  const q = ctx.request.query as Record<string, unknown> | undefined;
  const id = typeof q?.tenantId === 'string' ? q.tenantId : undefined;
  if (!id) throw new ApiError('validation_failed', { message: 'With the admin key, name the tenant: ?tenantId=<id>', details: [{ path: 'tenantId', message: 'required with the admin key' }] });
  return id;
}

/** Like tenantIdOf, but an admin without `tenantId` sees every tenant (undefined). */
export function tenantScopeOf(ctx: { principal: Principal; request: FastifyRequest }): string | undefined {
  if (ctx.principal.kind === 'tenant') return ctx.principal.tenantId;
  const q = ctx.request.query as Record<string, unknown> | undefined;
  return typeof q?.tenantId === 'string' && q.tenantId !== '' ? q.tenantId : undefined;
}
