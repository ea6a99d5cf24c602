import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, type ParleyConfig } from '../../src/config.js';
import { createLogger } from '../../src/observability/logger.js';
import { type ParleyServer, startServer } from '../../src/server/server.js';
import YAML from 'yaml';
import { type TenantConfig, type TenantInput, tenantSchema } from '../../src/tenants/schema.js';

export const ADMIN_KEY = 'test-admin-key';
export const HOTEL_NUMBER = '+15550100000';
/** A whole simulated call runs in real time; past this something is stuck. */
export const E2E_TIMEOUT_MS = 120_000;

/** The demo hotel tenant document (tenants/hotel.yaml as written: `agent`, number strings). */
export async function hotelDocument(): Promise<TenantInput & { agent: NonNullable<TenantInput['agent']> }> {
  const file = new URL('../../tenants/hotel.yaml', import.meta.url);
  return YAML.parse(await readFile(file, 'utf8'));
}

/** The demo hotel tenant, its document optionally changed for a test, validated as a tenant file is. */
export async function hotelTenant(patch: (t: Awaited<ReturnType<typeof hotelDocument>>) => TenantInput = (t) => t): Promise<TenantConfig> {
  return tenantSchema.parse(patch(await hotelDocument()));
}

/** A real server on a loopback port with a fresh data dir. */
export async function testServer(tenants: TenantConfig[], config: Partial<ParleyConfig> = {}): Promise<ParleyServer> {
  const dataDir = await mkdtemp(join(tmpdir(), 'parley-test-'));
  return startServer({
    config: loadConfig({}, { port: 0, host: '127.0.0.1', dataDir, adminKey: ADMIN_KEY, ...config }),
    tenants,
    logger: createLogger({ level: process.env.PARLEY_TEST_LOG_LEVEL ?? 'silent' }),
  });
}

export async function getCall(server: ParleyServer, id: string): Promise<Record<string, any>> {
  for (let i = 0; i < 100; i++) {
    const res = await fetch(`${server.url}/v1/calls/${id}`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
    if (res.ok) {
      const call = (await res.json()) as Record<string, any>;
      if (call.status !== 'in_progress') return call;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`call ${id} did not end`);
}
