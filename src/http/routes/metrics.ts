import { Hono } from 'hono'
import type { ServiceMetrics } from '../../process/metrics.js'
import { apiToken } from '../middleware/auth.js'

export interface MetricsRouteOptions {
  metrics: ServiceMetrics
  /** Scrapers authenticate like any other API client: `Authorization: Bearer <API_TOKEN>`. */
  apiTokens: readonly string[]
}

/** `GET /metrics`: Prometheus text exposition of this replica's metrics. */
export function metricsRoutes({ metrics, apiTokens }: MetricsRouteOptions) {
  return new Hono().get('/metrics', apiToken({ tokens: apiTokens }), async (c) =>
    c.body(await metrics.registry.metrics(), 200, { 'Content-Type': metrics.registry.contentType }),
  )
}
