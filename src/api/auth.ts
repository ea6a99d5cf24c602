/**
 * Bearer-key authentication. `resolvePrincipal` maps an Authorization header to who is calling;
 * it is a function so per-tenant keys (stored hashed) can be plugged in without touching routes.
 * Keys are compared as SHA-256 digests with timingSafeEqual: equal-length inputs, constant time.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify';
import { ApiError, sendApiError } from './errors.js';

export type Principal = { kind: 'admin' } | { kind: 'tenant'; tenantId: string };

/** Maps an Authorization header value to a principal, or undefined when it proves nothing. */
export type PrincipalResolver = (
  authorizationHeader: string | undefined,
) => Principal | undefined | Promise<Principal | undefined>;

/** A tenant API key as stored: only its SHA-256 digest (hex). */
export interface TenantKeyRecord {
  tenantId: string;
  keySha256Hex: string;
}

export interface PrincipalResolverOptions {
  /** Admin key (PARLEY_ADMIN_KEY); sees all tenants. */
  adminKey?: string;
  /** Hashed per-tenant keys; each sees only its tenant. */
  tenantKeys?: readonly TenantKeyRecord[];
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the auth hook on authenticated routes. */
    principal: Principal | null;
  }
}

/** SHA-256 digest of an API key, hex encoded — the form tenant keys are stored in. */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

function digest(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest();
}

/** Constant-time comparison of a presented key with a stored digest. */
function matchesDigest(presentedDigest: Buffer, storedDigest: Buffer): boolean {
  return storedDigest.length === presentedDigest.length && timingSafeEqual(presentedDigest, storedDigest);
}

/** Extracts the token of `Authorization: Bearer <token>`; undefined for anything else. */
export function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
  return m?.[1];
}

/** True when the options configure at least one way to authenticate. */
export function authConfigured(o: PrincipalResolverOptions): boolean {
  return (o.adminKey !== undefined && o.adminKey !== '') || (o.tenantKeys?.length ?? 0) > 0;
}

/** Builds a resolver checking the admin key, then tenant keys. Every configured key is compared (no early exit). */
export function createPrincipalResolver(o: PrincipalResolverOptions): PrincipalResolver {
  const adminDigest = o.adminKey !== undefined && o.adminKey !== '' ? digest(o.adminKey) : undefined;
  const tenants = (o.tenantKeys ?? []).map((t) => ({ tenantId: t.tenantId, digest: Buffer.from(t.keySha256Hex, 'hex') }));
  return (header) => {
    const token = bearerToken(header);
    if (token === undefined) return undefined;
    const presented = digest(token);
    let found: Principal | undefined;
    if (adminDigest !== undefined && matchesDigest(presented, adminDigest)) found = { kind: 'admin' };
    for (const t of tenants) {
      if (matchesDigest(presented, t.digest) && found === undefined) found = { kind: 'tenant', tenantId: t.tenantId };
    }
    return found;
  };
}

/** Store scope for a principal: tenants are confined to their own data, admins see all. */
export function scopeOf(p: Principal): { tenantId?: string } {
  return p.kind === 'tenant' ? { tenantId: p.tenantId } : {};
}

export interface AuthHookOptions {
  resolvePrincipal: PrincipalResolver;
  /** False → every request gets `auth_not_configured` (never open by default). */
  configured: boolean;
  /** Only admins pass (e.g. /metrics when protected). */
  adminOnly?: boolean;
}

/**
 * onRequest hook requiring a valid bearer key; sets `request.principal`.
 * Reusable by routes registered outside this module.
 */
export function requireAuth(o: AuthHookOptions): onRequestHookHandler {
  return async function authHook(request: FastifyRequest, reply: FastifyReply) {
    if (!o.configured) return sendApiError(reply, new ApiError('auth_not_configured'));
    const principal = await o.resolvePrincipal(request.headers.authorization);
    if (principal === undefined) {
      reply.header('www-authenticate', 'Bearer');
      return sendApiError(reply, new ApiError('unauthorized'));
    }
    if (o.adminOnly === true && principal.kind !== 'admin') return sendApiError(reply, new ApiError('forbidden'));
    request.principal = principal;
  };
}

/** The principal of an authenticated request; throws `unauthorized` if the auth hook did not run. */
export function principalOf(request: FastifyRequest): Principal {
  if (request.principal === null) throw new ApiError('unauthorized');
  return request.principal;
}
