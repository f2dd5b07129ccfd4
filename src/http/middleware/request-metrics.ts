import type { ServiceMetrics } from '../../process/metrics.js'
import type { RequestObserver } from './request-observer.js'

export interface RequestMetricsOptions {
  metrics: ServiceMetrics
}

/**
 * Observes every request's duration by method, matched route and status. An observer for
 * `observeRequests()`.
 *
 * @example
 * ```ts
 * const metrics = createMetrics()
 * app.use(observeRequests(requestMetrics({ metrics })))
 * ```
 */
export const requestMetrics =
  ({ metrics }: RequestMetricsOptions): RequestObserver =>
  ({ method, route, status, durationMs }) =>
    metrics.observeRequest(method, route, status, durationMs / 1000)
