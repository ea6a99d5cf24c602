/**
 * Regenerates sdk/src/generated.ts from the OpenAPI document of a real server (started here on a
 * loopback port with no tenants and a throw-away data directory), so every route the server
 * registers is covered. Run after changing a route: `npx tsx scripts/generate-sdk.ts`
 * (`--check` exits 1 when the file is stale instead of writing it).
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/observability/logger.js';
import { startServer } from '../src/server/server.js';
import { generateSdkSource } from './sdk-codegen.js';

export const GENERATED_SDK_FILE = fileURLToPath(new URL('../sdk/src/generated.ts', import.meta.url));

/** The OpenAPI document a freshly started server serves at /docs/json. */
export async function fetchServerOpenApiDocument(): Promise<Parameters<typeof generateSdkSource>[0]> {
  const dataDir = await mkdtemp(join(tmpdir(), 'parley-sdkgen-'));
  const server = await startServer({
    config: loadConfig({}, { port: 0, host: '127.0.0.1', dataDir, adminKey: 'sdk-generation-only' }),
    tenants: [],
    logger: createLogger({ level: 'silent' }),
  });
  try {
    const res = await server.app.inject({ method: 'GET', url: '/docs/json' });
    if (res.statusCode !== 200) throw new Error(`GET /docs/json answered ${res.statusCode}`);
    return res.json();
  } finally {
    await server.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const source = generateSdkSource(await fetchServerOpenApiDocument());
  const current = await readFile(GENERATED_SDK_FILE, 'utf8').catch(() => '');
  if (process.argv.includes('--check')) {
    if (current !== source) {
      console.error(`${GENERATED_SDK_FILE} is stale: run npx tsx scripts/generate-sdk.ts`);
      process.exit(1);
    }
    console.log('sdk/src/generated.ts is up to date');
    return;
  }
  if (current === source) console.log('sdk/src/generated.ts is already up to date');
  else {
    await writeFile(GENERATED_SDK_FILE, source);
    console.log(`wrote ${GENERATED_SDK_FILE}`);
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
