import type { FastifyInstance } from 'fastify';
import type { Metrics } from '../../observability/metrics.js';
import { requireAuth, type PrincipalResolver } from '../auth.js';

export interface MetricsRouteDeps {
  metrics: Metrics;
  /**
   * Require the admin key on /metrics. Default false: Prometheus scrapers usually carry no
   * credentials, so operators are expected to keep /metrics off the public internet (firewall /
   * internal listener). Metrics hold counts and latencies, no call content or secrets.
   */
  metricsAuth: boolean;
  resolvePrincipal: PrincipalResolver;
  authConfigured: boolean;
}

/** `GET /metrics` — Prometheus text exposition of the app's registry. */
export function registerMetricsRoutes(app: FastifyInstance, deps: MetricsRouteDeps): void {
  const onRequest = deps.metricsAuth
    ? [requireAuth({ resolvePrincipal: deps.resolvePrincipal, configured: deps.authConfigured, adminOnly: true })]
    : [];
  app.get('/metrics', { onRequest }, async (_request, reply) => {
    const text = await deps.metrics.registry.metrics();
    return reply.type(deps.metrics.registry.contentType).send(text);
  });
}
