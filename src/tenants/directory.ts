import type { TenantConfig } from './schema.js';

/** Answers "which tenant owns this number?" — the routing step of every inbound call. */
export class TenantDirectory {
  private readonly byNumber = new Map<string, TenantConfig>();
  private readonly byId = new Map<string, TenantConfig>();

  constructor(tenants: readonly TenantConfig[]) {
    for (const t of tenants) {
      this.byId.set(t.id, t);
      for (const n of t.phoneNumbers) this.byNumber.set(normalizeNumber(n), t);
    }
  }

  byPhoneNumber(number: string): TenantConfig | undefined {
    return this.byNumber.get(normalizeNumber(number));
  }

  get(id: string): TenantConfig | undefined {
    return this.byId.get(id);
  }

  all(): TenantConfig[] {
    return [...this.byId.values()];
  }
}

/** Strips formatting Twilio never sends but humans type ("+1 (555) 010-0000"). */
export function normalizeNumber(n: string): string {
  return n.replace(/[\s()\-.]/g, '');
}
