/**
 * A listening Parley HTTP app with the call-lifecycle pieces (outbound calls, hangup, callbacks,
 * usage, Twilio call webhooks) wired the way server.ts wires them, plus a fake Twilio REST API
 * that reaches it. No media streams: tests that need a voice session use test/support/server.ts.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildApi } from '../../src/api/app.js';
import { createPrincipalResolver, hashApiKey } from '../../src/api/auth.js';
import { registerCallbacksRoutes } from '../../src/api/routes/callbacks.js';
import { registerCallActionRoutes } from '../../src/api/routes/calls.js';
import { registerUsageRoutes } from '../../src/api/routes/usage.js';
import { LiveCalls } from '../../src/calls/live-calls.js';
import { createLogger } from '../../src/observability/logger.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { openStore, type Store } from '../../src/store/store.js';
import { TenantDirectory } from '../../src/tenants/directory.js';
import { type TenantConfig, type TenantInput, tenantSchema } from '../../src/tenants/schema.js';
import { StreamTokens } from '../../src/transports/twilio/stream-token.js';
import { registerTwilioCallWebhooks, registerTwilioWebhooks } from '../../src/transports/twilio/webhook-routes.js';
import { WhisperTokens } from '../../src/transports/twilio/whisper-tokens.js';
import { type FakeTwilioApi, startFakeTwilioApi } from '../fakes/twilio-api-server.js';

export const PLATFORM_ADMIN_KEY = 'platform-admin-key-0123456789';
export const PUBLIC_URL = 'https://parley.example.com';
export const ACCOUNT_SID = `AC${'0'.repeat(31)}1`;
export const AUTH_TOKEN = 'acme-twilio-auth-token';
export const ACME_NUMBER = '+15550100000';
export const ACME_SALES_NUMBER = '+15550100002';

/** A keyless tenant with two agents (support, sales) and Twilio credentials, changed by `patch`. */
export function acmeTenant(patch: (t: TenantInput) => TenantInput = (t) => t): TenantConfig {
  const agent = (greeting: string) => ({
    greeting,
    llm: { provider: 'flow' },
    flow: { start: 'main', states: { main: { say: greeting, intents: [] } } },
  });
  const doc = {
    id: 'acme',
    name: 'Acme',
    phoneNumbers: [ACME_NUMBER, { number: ACME_SALES_NUMBER, agent: 'sales' }],
    agents: { support: agent('Acme support.'), sales: agent('Acme sales.') },
    defaultAgent: 'support',
    twilio: { accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN },
  } as TenantInput;
  return tenantSchema.parse(patch(doc));
}

export interface Platform {
  /** http://127.0.0.1:port */
  readonly url: string;
  readonly app: FastifyInstance;
  readonly store: Store;
  readonly tenants: TenantDirectory;
  readonly liveCalls: LiveCalls;
  readonly streamTokens: StreamTokens;
  readonly whisperTokens: WhisperTokens;
  readonly twilio: FakeTwilioApi;
  /** Bearer header for the admin key, or for a tenant's key (created per tenant). */
  auth(tenantId?: string): { authorization: string };
  close(): Promise<void>;
}

export interface PlatformOptions {
  /** Omit to run without PARLEY_PUBLIC_URL. */
  readonly publicUrl?: string | null;
  readonly now?: () => number;
}

export async function startPlatform(tenantList: TenantConfig[], o: PlatformOptions = {}): Promise<Platform> {
  const publicUrl = o.publicUrl === null ? undefined : (o.publicUrl ?? PUBLIC_URL);
  const dataDir = await mkdtemp(join(tmpdir(), 'parley-platform-'));
  const store = await openStore({ dataDir });
  const tenants = new TenantDirectory(tenantList);
  const logger = createLogger({ level: process.env.PARLEY_TEST_LOG_LEVEL ?? 'silent' });
  const liveCalls = new LiveCalls();
  const streamTokens = new StreamTokens('stream-secret-for-tests-0123456789');
  const whisperTokens = new WhisperTokens('whisper-secret-for-tests-0123456789');
  let target = '';
  const twilio = await startFakeTwilioApi({
    accounts: { [ACCOUNT_SID]: AUTH_TOKEN },
    reach: (u) => (publicUrl && u.startsWith(publicUrl) ? target + u.slice(publicUrl.length) : u),
  });
  const tenantKeys = tenantList.map((t) => ({ tenantId: t.id, key: `key-of-${t.id}` }));
  const resolvePrincipal = createPrincipalResolver({
    adminKey: PLATFORM_ADMIN_KEY,
    tenantKeys: tenantKeys.map((k) => ({ tenantId: k.tenantId, keySha256Hex: hashApiKey(k.key) })),
  });
  const outbound = { store, publicUrl, twilioApiBaseUrl: twilio.url, ...(o.now ? { now: o.now } : {}) };
  const app = buildApi({
    store,
    metrics: createMetrics({ collectDefaults: false }),
    logger,
    resolvePrincipal,
    v1Routes: [
      (v1) => registerCallActionRoutes(v1, { ...outbound, tenants, liveCalls }),
      (v1) => registerCallbacksRoutes(v1, { store, tenants, ...(o.now ? { now: o.now } : {}) }),
      (v1) => registerUsageRoutes(v1, { store, tenants, ...(o.now ? { now: o.now } : {}) }),
    ],
  });
  registerTwilioWebhooks(app, { routeNumber: (n) => tenants.route(n), streamTokens, publicUrl, store, ...(o.now ? { now: o.now } : {}) });
  registerTwilioCallWebhooks(app, { store, tenant: (id) => tenants.get(id), streamTokens, whisperTokens, liveCalls, publicUrl, ...(o.now ? { now: o.now } : {}) });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  target = url;
  return {
    url,
    app,
    store,
    tenants,
    liveCalls,
    streamTokens,
    whisperTokens,
    twilio,
    auth(tenantId) {
      if (tenantId === undefined) return { authorization: `Bearer ${PLATFORM_ADMIN_KEY}` };
      const k = tenantKeys.find((x) => x.tenantId === tenantId);
      if (!k) throw new Error(`no key for tenant ${tenantId}`);
      return { authorization: `Bearer ${k.key}` };
    },
    async close() {
      await app.close();
      await twilio.close();
      await store.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
