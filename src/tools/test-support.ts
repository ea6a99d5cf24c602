// Shared by the tool tests: a tenant built through the real schema, and a call context for it.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore, type Store } from '../store/store.js';
import { tenantSchema, type TenantConfig, type TenantInput } from '../tenants/schema.js';
import type { ToolCallContext } from './types.js';

export const CALLER = '+15550001111';
export const BUSINESS = '+15550002222';
export const ACCOUNT_SID = `AC${'0123456789abcdef'.repeat(2)}`;
export const AUTH_TOKEN = 'test-auth-token-not-secret';

type AgentInput = NonNullable<TenantInput['agent']>;

/** A tenant whose default agent (llm: openai, so no flow is needed) has `tools`. */
export function tenantWith(tools: AgentInput['tools'], over: Partial<TenantInput> = {}): TenantConfig {
  return tenantSchema.parse({
    id: 'acme',
    name: 'Acme',
    phoneNumbers: [BUSINESS],
    agent: { greeting: 'Hello.', llm: { provider: 'openai' }, tools },
    ...over,
  });
}

export interface TestContext extends ToolCallContext {
  readonly dtmfSent: string[];
}

/** A context for the default agent of `tenant` on call `call_test`, caller CALLER, at `nowMs`. */
export function contextFor(tenant: TenantConfig, over: Partial<ToolCallContext> = {}, nowMs = Date.parse('2026-03-10T12:00:00Z')): TestContext {
  const dtmfSent: string[] = [];
  const agent = tenant.agents[tenant.defaultAgentId];
  if (!agent) throw new Error('tenant without default agent');
  return {
    tenant,
    agentId: tenant.defaultAgentId,
    agent,
    callId: 'call_test',
    remoteNumber: CALLER,
    localNumber: BUSINESS,
    signal: new AbortController().signal,
    call: {
      async sendDtmf(digits) {
        dtmfSent.push(digits);
      },
    },
    nowMs: () => nowMs,
    dtmfSent,
    ...over,
  };
}

/** A fresh store in a temporary directory; `close` also removes the directory. */
export async function tempStore(): Promise<{ store: Store; close: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'parley-tools-'));
  const store = await openStore({ dataDir: dir });
  return {
    store,
    close: async () => {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
