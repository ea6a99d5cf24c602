import type { FastifyInstance } from 'fastify';
import type { Metrics } from '../../observability/metrics.js';

export interface HealthBody {
  status: 'ok';
  /** Process uptime in whole seconds. */
  uptimeS: number;
  /** Calls currently connected, from the parley_active_calls gauge. */
  activeCalls?: number;
}

/** `GET /health` — liveness, no auth (load balancers and orchestrators call it). */
export function registerHealthRoutes(app: FastifyInstance, deps: { metrics: Metrics }): void {
  app.get('/health', async (): Promise<HealthBody> => {
    const gauge = await deps.metrics.activeCalls.get();
    const activeCalls = gauge.values[0]?.value;
    return {
      status: 'ok',
      uptimeS: Math.floor(process.uptime()),
      ...(activeCalls !== undefined ? { activeCalls } : {}),
    };
  });
}
