/**
 * Bearer-key authentication. `resolvePrincipal` maps an Authorization header to who is calling;
 * it is a function so per-tenant keys (stored hashed) can be plugged in without touching routes.
 * The admin key is compared as a SHA-256 digest with timingSafeEqual: equal-length inputs,
 * constant time. Tenant keys are looked up by their SHA-256 digest (createStorePrincipalResolver):
 * the lookup can only reveal whether a digest exists, which says nothing about any key.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify';
import type { ApiKeysRepo } from '../store/store.js';
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

/** Tenant keys: `pk_` + 32 random bytes, base64url (43 characters). */
export const TENANT_KEY_PREFIX = 'pk_';
/** How many leading characters of a key are stored in the clear to tell keys apart (`pk_` + 7). */
export const KEY_PREFIX_LENGTH = 10;

/** A new tenant key, its digest (what is stored) and its display prefix. The key itself is shown once. */
export function generateTenantKey(): { key: string; keySha256Hex: string; prefix: string } {
  const key = `${TENANT_KEY_PREFIX}${randomBytes(32).toString('base64url')}`;
  return { key, keySha256Hex: hashApiKey(key), prefix: key.slice(0, KEY_PREFIX_LENGTH) };
}

/**
 * `lastUsedAt` is written at most this often per key: a busy integration must not turn every
 * request into a database write, and minute resolution is what "last used" needs.
 */
export const LAST_USED_WRITE_INTERVAL_MS = 60_000;

export interface StorePrincipalResolverOptions {
  /** Admin key (PARLEY_ADMIN_KEY); sees all tenants. */
  adminKey?: string;
  apiKeys: Pick<ApiKeysRepo, 'findActiveByDigest' | 'touch'>;
  /**
   * False for a tenant that no longer exists (deleted, or its file removed): its keys stop
   * working even if they were not revoked.
   */
  tenantExists: (tenantId: string) => boolean;
  /** Told when recording lastUsedAt fails (never fails the request). */
  onTouchError?: (err: unknown) => void;
  now?: () => number;
}

/**
 * Resolves the admin key (constant-time) or an active tenant key found by its SHA-256 digest.
 * Revocation is immediate: every request reads the key's row. Records `lastUsedAt` at most
 * once a minute per key, without making the request wait for the write.
 */
export function createStorePrincipalResolver(o: StorePrincipalResolverOptions): PrincipalResolver {
  const adminDigest = o.adminKey !== undefined && o.adminKey !== '' ? digest(o.adminKey) : undefined;
  const now = o.now ?? Date.now;
  const lastTouchMs = new Map<string, number>();
  return async (header) => {
    const token = bearerToken(header);
    if (token === undefined) return undefined;
    const presented = digest(token);
    if (adminDigest !== undefined && matchesDigest(presented, adminDigest)) return { kind: 'admin' };
    if (!token.startsWith(TENANT_KEY_PREFIX)) return undefined;
    const row = await o.apiKeys.findActiveByDigest(presented.toString('hex'));
    if (row === undefined || !o.tenantExists(row.tenantId)) return undefined;
    const t = now();
    const last = lastTouchMs.get(row.id);
    if (last === undefined || t - last >= LAST_USED_WRITE_INTERVAL_MS) {
      lastTouchMs.set(row.id, t);
      o.apiKeys.touch(row.id, t).catch((err: unknown) => o.onTouchError?.(err));
    }
    return { kind: 'tenant', tenantId: row.tenantId };
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
