import type { AgentConfig, TenantConfig } from './schema.js';

/** Where a tenant is defined: a file in the tenants directory (read-only through the API) or the API. */
export type TenantSource = 'file' | 'api';

export interface NumberRoute {
  readonly tenant: TenantConfig;
  readonly agentId: string;
  readonly agent: AgentConfig;
}

/**
 * Answers "which tenant and agent own this number?" — the routing step of every inbound call —
 * for file-defined and API-defined tenants alike. API writes update it in place.
 * One process: a second instance sees API changes after its own reload (see docs/tenants.md).
 */
export class TenantDirectory {
  private readonly byNumber = new Map<string, { tenantId: string; agentId: string }>();
  private readonly byId = new Map<string, { tenant: TenantConfig; source: TenantSource }>();

  constructor(fileTenants: readonly TenantConfig[] = []) {
    for (const t of fileTenants) this.put(t, 'file');
  }

  /** Adds or replaces a tenant. Throws when one of its numbers belongs to another tenant. */
  put(t: TenantConfig, source: TenantSource): void {
    const clash = this.numberConflict(t);
    if (clash) throw new Error(`${clash.number} is already routed by tenant ${clash.tenantId}`);
    this.remove(t.id);
    this.byId.set(t.id, { tenant: t, source });
    for (const r of t.phoneNumbers) this.byNumber.set(normalizeNumber(r.number), { tenantId: t.id, agentId: r.agentId });
  }

  /** The first of `t`'s numbers another tenant already routes, if any. */
  numberConflict(t: TenantConfig): { number: string; tenantId: string } | undefined {
    for (const r of t.phoneNumbers) {
      const owner = this.byNumber.get(normalizeNumber(r.number));
      if (owner && owner.tenantId !== t.id) return { number: r.number, tenantId: owner.tenantId };
    }
    return undefined;
  }

  remove(id: string): void {
    const prior = this.byId.get(id);
    if (!prior) return;
    for (const r of prior.tenant.phoneNumbers) this.byNumber.delete(normalizeNumber(r.number));
    this.byId.delete(id);
  }

  /** The tenant and agent a dialled number reaches. */
  route(number: string): NumberRoute | undefined {
    const r = this.byNumber.get(normalizeNumber(number));
    const entry = r && this.byId.get(r.tenantId);
    const agent = entry?.tenant.agents[r?.agentId ?? ''];
    return entry && r && agent ? { tenant: entry.tenant, agentId: r.agentId, agent } : undefined;
  }

  byPhoneNumber(number: string): TenantConfig | undefined {
    return this.route(number)?.tenant;
  }

  get(id: string): TenantConfig | undefined {
    return this.byId.get(id)?.tenant;
  }

  source(id: string): TenantSource | undefined {
    return this.byId.get(id)?.source;
  }

  all(): TenantConfig[] {
    return [...this.byId.values()].map((e) => e.tenant);
  }
}

/** Strips formatting Twilio never sends but humans type ("+1 (555) 010-0000"). */
export function normalizeNumber(n: string): string {
  return n.replace(/[\s()\-.]/g, '');
}
