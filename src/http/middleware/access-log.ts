import type { Logger } from '../../process/logger.js'
import type { RequestObserver } from './request-observer.js'

export interface AccessLogOptions {
  logger: Logger
  /** Paths not logged (load balancer probes would drown everything else). Default: none. */
  skipPaths?: readonly string[]
}

/**
 * One structured log line per request: method, matched route (not the raw path, so ids do not explode
 * log cardinality), status, duration and request id. An observer for `observeRequests()`.
 *
 * @example
 * ```ts
 * app.use(requestId(), observeRequests(accessLog({ logger, skipPaths: ['/healthz'] })))
 * ```
 */
export const accessLog =
  ({ logger, skipPaths = [] }: AccessLogOptions): RequestObserver =>
  ({ requestId, method, route, path, status, durationMs }) => {
    if (skipPaths.includes(path)) return
    logger.info(
      { requestId, method, route, status, durationMs: Math.round(durationMs * 100) / 100 },
      'request',
    )
  }
