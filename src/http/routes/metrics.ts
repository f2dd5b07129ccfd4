import { Hono } from 'hono'
import type { ServiceMetrics } from '../../process/metrics.js'
import type { authorization } from '../middleware/auth.js'

export interface MetricsRouteOptions {
  metrics: ServiceMetrics
  /** Scrapers authenticate with the metrics token (METRICS_TOKEN), which can do nothing else. */
  auth: ReturnType<typeof authorization>
}

/** `GET /metrics`: Prometheus text exposition of this replica's metrics. */
export function metricsRoutes({ metrics, auth }: MetricsRouteOptions) {
  return new Hono().get('/metrics', auth.metrics, async (c) =>
    c.body(await metrics.registry.metrics(), 200, { 'Content-Type': metrics.registry.contentType }),
  )
}
