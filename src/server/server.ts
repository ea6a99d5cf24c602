import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { buildApi } from '../api/app.js';
import { type ParleyConfig, processEnv } from '../config.js';
import { createLogger } from '../observability/logger.js';
import { createMetrics, type Metrics } from '../observability/metrics.js';
import { flushCallRecords } from '../pipeline/call-recorder.js';
import { Pacer } from '../pipeline/pacer.js';
import { CircuitBreakers } from '../providers/circuit-breaker.js';
import { createAnalysisLlm, validateTenantProviders } from '../providers/registry.js';
import { CallbackScheduler } from '../calls/callback-scheduler.js';
import { LiveCalls } from '../calls/live-calls.js';
import { registerCallActionRoutes } from '../api/routes/calls.js';
import { registerCallbacksRoutes } from '../api/routes/callbacks.js';
import { registerRecordingRoutes } from '../api/routes/recordings.js';
import { registerUsageRoutes } from '../api/routes/usage.js';
import { registerWebhookDeliveryRoutes } from '../api/routes/webhook-deliveries.js';
import { finalizeCall } from '../post-call/finalize.js';
import { RecordingRetention } from '../recording/retention.js';
import { TenantService } from '../tenants/tenant-service.js';
import { registerTwilioCallWebhooks } from '../transports/twilio/webhook-routes.js';
import { WhisperTokens } from '../transports/twilio/whisper-tokens.js';
import { WebhookDispatcher } from '../webhooks/dispatcher.js';
import { WebhookEmitter } from '../webhooks/emitter.js';
import { PhraseCache } from '../pipeline/phrase-cache.js';
import { warmGreetings } from './phrase-warmup.js';
import { setHeapGrowth } from './heap-growth.js';
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
  readonly tenantService: TenantService;
  readonly liveCalls: LiveCalls;
  readonly phraseCache: PhraseCache;
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
  // Fewer full collections stopping the event loop that carries live audio (process-wide).
  setHeapGrowth(config.heapGrowthPercent);
  const tenantList = o.tenants ?? (await loadTenantsDir(config.tenantsDir, processEnv()));
  for (const t of tenantList) validateTenantProviders(t);
  const tenants = new TenantDirectory(tenantList);
  if (!config.publicUrl && tenantList.some((t) => t.twilio?.authToken)) {
    logger.warn('PARLEY_PUBLIC_URL is not set: Twilio signatures are checked against the Host header, which fails behind a proxy or tunnel');
  }
  const metrics = createMetrics();
  const store = await openStore({
    dataDir: config.dataDir,
    // The event loop carries live audio: WAL checkpoints (page copies and an fsync) run on a worker.
    checkpointInWorker: true,
    onCheckpointError: (message) => logger.error({ err: message }, 'WAL checkpoints moved back to the serving connection'),
  });
  const closed = await store.calls.closeAbandoned(Date.now());
  if (closed > 0) logger.warn({ calls: closed }, 'closed calls left open by a previous run as ended_abnormally');
  const tenantService = new TenantService({ store, directory: tenants, logger });
  await tenantService.loadStored();

  const shutdown = new AbortController();
  const phraseCache = new PhraseCache();
  const postCall = new Set<Promise<void>>();
  let engine: PocketsphinxEngine | undefined;
  const pocketsphinx = (): PocketsphinxEngine => (engine ??= new PocketsphinxEngine({ maxDecoders: config.sttMaxDecoders, workerCount: config.sttWorkers }));
  const engines = { pocketsphinx, breakers: new CircuitBreakers() };
  if (tenants.all().some((t) => Object.values(t.agents).some((a) => a.stt.some((p) => p.provider === 'pocketsphinx')))) {
    // Decoder start-up takes ~330 ms; have some ready before the first call rings.
    pocketsphinx()
      .warm(Math.min(config.sttWarmDecoders, config.sttMaxDecoders))
      .catch((err: unknown) => logger.error({ err: (err as Error).message }, 'pocketsphinx warm-up failed'));
  }

  const liveCalls = new LiveCalls();
  const streamTokens = new StreamTokens(config.streamTokenSecret);
  const whisperTokens = new WhisperTokens(`${config.streamTokenSecret}:whisper`);
  const getTenant = (id: string) => tenants.get(id);
  const dispatcher = new WebhookDispatcher({ store, getTenant, log: logger });
  const webhooks = new WebhookEmitter({ store, log: logger, onEnqueued: () => dispatcher.kick() });
  const outbound = { store, publicUrl: config.publicUrl, twilioApiBaseUrl: config.twilioApiBaseUrl };
  const app = buildApi({
    store,
    metrics,
    logger,
    adminKey: config.adminKey,
    tenants: tenantService,
    v1Routes: [
      (v1) => registerCallActionRoutes(v1, { ...outbound, tenants, liveCalls }),
      (v1) => registerCallbacksRoutes(v1, { store, tenants }),
      (v1) => registerUsageRoutes(v1, { store, tenants }),
      (v1) => registerRecordingRoutes(v1, { store, dataDir: config.dataDir }),
      (v1) => registerWebhookDeliveryRoutes(v1, { store, dispatcher }),
    ],
  });
  registerTwilioWebhooks(app, { routeNumber: (n) => tenants.route(n), streamTokens, publicUrl: config.publicUrl, store });
  registerTwilioCallWebhooks(app, { store, tenant: getTenant, streamTokens, whisperTokens, liveCalls, publicUrl: config.publicUrl });

  await app.listen({ port: config.port, host: config.host });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const pacer = new Pacer();
  const streams = attachTwilioStreamServer(app.server, {
    pacer,
    log: logger,
    authorize: createTwilioCallAuthorizer({
      tenants,
      streamTokens,
      whisperTokens,
      store,
      metrics,
      logger,
      engines,
      twilioApiBaseUrl: config.twilioApiBaseUrl,
      publicUrl: config.publicUrl,
      dataDir: config.dataDir,
      liveCalls,
      webhooks,
      toolServices: { store, twilioApiBaseUrl: config.twilioApiBaseUrl },
      phraseCache,
      finalize: (input) => {
        const task = finalizeCall({ store, webhooks, createAnalysisLlm: (agent) => createAnalysisLlm(agent, engines), log: logger }, { ...input, signal: shutdown.signal });
        postCall.add(task);
        return task.finally(() => postCall.delete(task));
      },
    }),
  });
  const warming = warmGreetings(tenants.all(), engines, phraseCache, logger, shutdown.signal);
  const retention = new RecordingRetention({ recordings: store.recordings, getTenant, dataDir: config.dataDir, log: logger });
  const scheduler = new CallbackScheduler({ outbound, tenants, log: logger });
  dispatcher.start();
  retention.start();
  await scheduler.start();
  logger.info({ port, tenants: tenants.all().map((t) => t.id), publicUrl: config.publicUrl ?? null }, 'parley listening');

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    app,
    store,
    metrics,
    tenants,
    tenantService,
    liveCalls,
    phraseCache,
    async close() {
      await scheduler.stop();
      streams.close();
      await app.close();
      // The ended calls' last record writes commit (batched per event-loop turn), which is what starts
      // their post-call work; one more turn lets those tasks register.
      await flushCallRecords(store);
      await new Promise((resolve) => setImmediate(resolve));
      // Calls that just ended finish their post-call work (bounded; aborted analysis still records cost).
      shutdown.abort();
      await Promise.allSettled([...postCall, warming]);
      await dispatcher.stop();
      await retention.stop();
      await engine?.close();
      await flushCallRecords(store);
      await store.close();
    },
  };
}
