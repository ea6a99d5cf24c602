/**
 * Builds the HTTP API (Fastify). Composable: callers add routes (Twilio webhooks, WebSocket
 * upgrade) to the returned instance, then `listen()`; nothing here listens or calls ready().
 */
import Fastify, { type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Metrics } from '../observability/metrics.js';
import type { Store } from '../store/store.js';
import { TenantDirectory } from '../tenants/directory.js';
import { TenantService } from '../tenants/tenant-service.js';
import { authConfigured, createStorePrincipalResolver, requireAuth, type PrincipalResolver } from './auth.js';
import { installErrorHandlers } from './errors.js';
import { registerAgentRoutes } from './routes/agents.js';
import { registerApiKeyRoutes } from './routes/api-keys.js';
import { registerCallsRoutes } from './routes/calls.js';
import { registerDocsRoutes } from './routes/docs.js';
import { registerDocumentRoutes } from './routes/documents.js';
import { registerHealthRoutes } from './routes/health.js';
import { registerMetricsRoutes } from './routes/metrics.js';
import { registerPhoneNumberRoutes } from './routes/phone-numbers.js';
import { registerTenantRoutes } from './routes/tenants.js';

export interface ApiDeps {
  store: Store;
  metrics: Metrics;
  logger: Logger;
  /**
   * The run-time tenant service; the server passes the one whose directory routes calls, so API
   * changes reach routing at once. Omitted (tests of other routes): a service over an empty
   * directory of its own.
   */
  tenants?: TenantService;
  /** PARLEY_ADMIN_KEY. Unset (and no custom resolver) → every /v1 request is refused. */
  adminKey?: string;
  /** Require the admin key on GET /metrics. Default false (operators firewall /metrics). */
  metricsAuth?: boolean;
  /**
   * Replaces the default resolver (admin key + tenant keys from the store, see
   * createStorePrincipalResolver). When given, auth counts as configured.
   */
  resolvePrincipal?: PrincipalResolver;
  /** Max request body (bytes). Default 1 MiB. Document uploads have their own limit. */
  bodyLimitBytes?: number;
  /**
   * More /v1 route modules, registered inside the authenticated /v1 scope after the built-in
   * ones, one entry each, e.g. `(v1) => registerUsageRoutes(v1, { store, tenants: directory })`.
   */
  v1Routes?: ReadonlyArray<(v1: FastifyInstance) => void>;
}

/** Creates the Fastify app with health, metrics, docs and /v1 routes, error handling and auth. */
export function buildApi(deps: ApiDeps): FastifyInstance {
  const app = Fastify({
    loggerInstance: deps.logger,
    bodyLimit: deps.bodyLimitBytes ?? 1024 * 1024,
    // Carrier call sids and our ids are short; a long URL is a mistake or an attack.
    routerOptions: { maxParamLength: 200 },
    // Fastify types its logger against its own pino version; ours (pino 10) is runtime-compatible,
    // so the instance is exposed with the default FastifyBaseLogger type.
  }) as unknown as FastifyInstance;

  const { store, logger } = deps;
  const tenants = deps.tenants ?? new TenantService({ store, directory: new TenantDirectory(), logger });
  const resolvePrincipal =
    deps.resolvePrincipal ??
    createStorePrincipalResolver({
      adminKey: deps.adminKey,
      apiKeys: store.apiKeys,
      tenantExists: (id) => tenants.get(id) !== undefined,
      onTouchError: (err) => logger.warn({ err: (err as Error).message }, 'could not record an API key as used'),
    });
  // Tenant keys are created with the admin key; without one the API stays closed (never open by default).
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
  registerDocsRoutes(app);

  app.register(
    async (v1) => {
      v1.addHook('onRequest', requireAuth({ resolvePrincipal, configured }));
      // One line per route module; each takes only the dependencies it uses.
      registerCallsRoutes(v1, { store });
      registerTenantRoutes(v1, { tenants });
      registerApiKeyRoutes(v1, { apiKeys: store.apiKeys, tenants });
      registerAgentRoutes(v1, { tenants });
      registerPhoneNumberRoutes(v1, { tenants });
      registerDocumentRoutes(v1, { documents: store.documents, tenants });
      for (const register of deps.v1Routes ?? []) register(v1);
    },
    { prefix: '/v1' },
  );

  return app;
}
