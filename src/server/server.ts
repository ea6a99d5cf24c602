import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { buildApi } from '../api/app.js';
import { type ParleyConfig, processEnv } from '../config.js';
import { createLogger } from '../observability/logger.js';
import { createMetrics, type Metrics } from '../observability/metrics.js';
import { Pacer } from '../pipeline/pacer.js';
import { CircuitBreakers } from '../providers/circuit-breaker.js';
import { validateTenantProviders } from '../providers/registry.js';
import { PocketsphinxEngine } from '../providers/stt/pocketsphinx-engine.js';
import { openStore, type Store } from '../store/store.js';
import { TenantDirectory } from '../tenants/directory.js';
import { loadTenantsDir } from '../tenants/loader.js';
import type { TenantConfig } from '../tenants/schema.js';
import { attachTwilioStreamServer } from '../transports/twilio/stream-server.js';
import { StreamTokens } from '../transports/twilio/stream-token.js';
import { registerTwilioWebhooks } from '../transports/twilio/webhook-routes.js';
import { createTwilioCallAuthorizer } from './call-factory.js';

export interface ParleyServer {
  /** http://host:port of the listening server. */
  readonly url: string;
  readonly port: number;
  readonly app: FastifyInstance;
  readonly store: Store;
  readonly metrics: Metrics;
  readonly tenants: TenantDirectory;
  close(): Promise<void>;
}

export interface StartServerOptions {
  readonly config: ParleyConfig;
  /** Tenants to serve instead of reading config.tenantsDir (tests). */
  readonly tenants?: TenantConfig[];
  readonly logger?: Logger;
}

/** Starts Parley: store, tenants, API, Twilio webhooks and media streams, on one port. */
export async function startServer(o: StartServerOptions): Promise<ParleyServer> {
  const { config } = o;
  const logger = o.logger ?? createLogger({ level: config.logLevel });
  const tenantList = o.tenants ?? (await loadTenantsDir(config.tenantsDir, processEnv()));
  for (const t of tenantList) validateTenantProviders(t);
  const tenants = new TenantDirectory(tenantList);
  if (!config.publicUrl && tenantList.some((t) => t.twilio?.authToken)) {
    logger.warn('PARLEY_PUBLIC_URL is not set: Twilio signatures are checked against the Host header, which fails behind a proxy or tunnel');
  }
  const metrics = createMetrics();
  const store = await openStore({ dataDir: config.dataDir });
  const closed = await store.calls.closeAbandoned(Date.now());
  if (closed > 0) logger.warn({ calls: closed }, 'closed calls left open by a previous run as ended_abnormally');

  let engine: PocketsphinxEngine | undefined;
  const pocketsphinx = (): PocketsphinxEngine => (engine ??= new PocketsphinxEngine({ maxDecoders: config.sttMaxDecoders, workerCount: config.sttWorkers }));
  const engines = { pocketsphinx, breakers: new CircuitBreakers() };
  if (tenantList.some((t) => Object.values(t.agents).some((a) => a.stt.some((p) => p.provider === 'pocketsphinx')))) {
    // Decoder start-up takes ~330 ms; have some ready before the first call rings.
    pocketsphinx()
      .warm(Math.min(config.sttWarmDecoders, config.sttMaxDecoders))
      .catch((err: unknown) => logger.error({ err: (err as Error).message }, 'pocketsphinx warm-up failed'));
  }

  const app = buildApi({ store, metrics, logger, adminKey: config.adminKey });
  const streamTokens = new StreamTokens(config.streamTokenSecret);
  registerTwilioWebhooks(app, { routeNumber: (n) => tenants.route(n), streamTokens, publicUrl: config.publicUrl });

  await app.listen({ port: config.port, host: config.host });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const pacer = new Pacer();
  const streams = attachTwilioStreamServer(app.server, {
    pacer,
    log: logger,
    authorize: createTwilioCallAuthorizer({ tenants, streamTokens, store, metrics, logger, engines, twilioApiBaseUrl: config.twilioApiBaseUrl }),
  });
  logger.info({ port, tenants: tenantList.map((t) => t.id), publicUrl: config.publicUrl ?? null }, 'parley listening');

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    app,
    store,
    metrics,
    tenants,
    async close() {
      streams.close();
      await app.close();
      await engine?.close();
      await store.close();
    },
  };
}
