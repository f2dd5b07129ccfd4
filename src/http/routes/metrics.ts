import { createRoute, z } from '@hono/zod-openapi'
import type { ServiceMetrics } from '../../process/metrics.js'
import type { authorization } from '../middleware/auth.js'
import { errorResponses, success } from '../openapi/responses.js'
import { apiRoutes } from '../openapi/routes.js'
import { SECURITY } from '../openapi/security.js'

export interface MetricsRouteOptions {
  metrics: ServiceMetrics
  /** Scrapers authenticate with the metrics token (METRICS_TOKEN), which can do nothing else. */
  auth: ReturnType<typeof authorization>
}

const scrape = createRoute({
  tags: ['Operations'],
  security: SECURITY.metrics,
  method: 'get',
  path: '/metrics',
  summary: "This replica's Prometheus metrics",
  description:
    'Request durations, Node process metrics and the `hrs_*` metrics (README, "Metrics"). Scrape every replica.',
  responses: {
    200: success('The Prometheus text exposition format.', {
      'text/plain; version=0.0.4': { schema: z.string().openapi({ example: 'hrs_sse_streams_open 0\n' }) },
    }),
    ...errorResponses(['unauthorized', 'invalid_grant', 'forbidden', 'rate_limited']),
  },
})

/** `GET /metrics`: Prometheus text exposition of this replica's metrics. */
export function metricsRoutes({ metrics, auth }: MetricsRouteOptions) {
  return apiRoutes().openapi({ ...scrape, middleware: [auth.metrics] as const }, async (c) =>
    c.text(await metrics.registry.metrics(), 200, { 'Content-Type': metrics.registry.contentType }),
  )
}
