/**
 * Builds the HTTP API (Fastify). Composable: callers add routes (Twilio webhooks, WebSocket
 * upgrade) to the returned instance, then `listen()`; nothing here listens or calls ready().
 */
import Fastify, { type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Metrics } from '../observability/metrics.js';
import type { Store } from '../store/store.js';
import { authConfigured, createPrincipalResolver, requireAuth, type PrincipalResolver } from './auth.js';
import { installErrorHandlers } from './errors.js';
import { registerCallsRoutes } from './routes/calls.js';
import { registerHealthRoutes } from './routes/health.js';
import { registerMetricsRoutes } from './routes/metrics.js';

export interface ApiDeps {
  store: Store;
  metrics: Metrics;
  logger: Logger;
  /** PARLEY_ADMIN_KEY. Unset (and no custom resolver) → every /v1 request is refused. */
  adminKey?: string;
  /** Require the admin key on GET /metrics. Default false (operators firewall /metrics). */
  metricsAuth?: boolean;
  /**
   * Replaces the default admin-key resolver, e.g. to add hashed per-tenant keys
   * (see createPrincipalResolver). When given, auth counts as configured.
   */
  resolvePrincipal?: PrincipalResolver;
  /** Max request body (bytes). Default 1 MiB. */
  bodyLimitBytes?: number;
}

/** Creates the Fastify app with health, metrics and /v1 routes, error handling and auth. */
export function buildApi(deps: ApiDeps): FastifyInstance {
  const app = Fastify({
    loggerInstance: deps.logger,
    bodyLimit: deps.bodyLimitBytes ?? 1024 * 1024,
    // Carrier call sids and our ids are short; a long URL is a mistake or an attack.
    routerOptions: { maxParamLength: 200 },
    // Fastify types its logger against its own pino version; ours (pino 10) is runtime-compatible,
    // so the instance is exposed with the default FastifyBaseLogger type.
  }) as unknown as FastifyInstance;

  const resolvePrincipal = deps.resolvePrincipal ?? createPrincipalResolver({ adminKey: deps.adminKey });
  const configured = deps.resolvePrincipal !== undefined || authConfigured({ adminKey: deps.adminKey });

  app.decorateRequest('principal', null);
  installErrorHandlers(app);

  registerHealthRoutes(app, { metrics: deps.metrics });
  registerMetricsRoutes(app, {
    metrics: deps.metrics,
    metricsAuth: deps.metricsAuth ?? false,
    resolvePrincipal,
    authConfigured: configured,
  });

  app.register(
    async (v1) => {
      v1.addHook('onRequest', requireAuth({ resolvePrincipal, configured }));
      registerCallsRoutes(v1, { store: deps.store });
    },
    { prefix: '/v1' },
  );

  return app;
}
