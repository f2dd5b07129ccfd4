import { createMiddleware } from 'hono/factory'
import { routePath } from 'hono/route'
import type { ServiceMetrics } from '../metrics.js'

export interface RequestMetricsOptions {
  metrics: ServiceMetrics
}

/**
 * Observes every request's duration by method, matched route (never the raw path, whose ids would make
 * the label set unbounded) and status. For a stream, the duration is the time to its first byte.
 *
 * @example
 * ```ts
 * const metrics = createMetrics()
 * app.use(requestMetrics({ metrics }))
 * ```
 */
export const requestMetrics = ({ metrics }: RequestMetricsOptions) =>
  createMiddleware(async (c, next) => {
    const started = performance.now()
    await next()
    metrics.observeRequest(c.req.method, routePath(c, -1), c.res.status, (performance.now() - started) / 1000)
  })
