import { createMiddleware } from 'hono/factory'
import type { RequestIdVariables } from 'hono/request-id'
import { routePath } from 'hono/route'
import type { Logger } from '../logger.js'

export interface AccessLogOptions {
  logger: Logger
  /** Paths not logged (load balancer probes would drown everything else). Default: none. */
  skipPaths?: readonly string[]
}

/**
 * One structured log line per request: method, matched route (not the raw path, so ids do not explode
 * log cardinality), status, duration and request id. Runs after `requestId()`.
 *
 * @example
 * ```ts
 * app.use(requestId(), accessLog({ logger, skipPaths: ['/healthz'] }))
 * ```
 */
export const accessLog = ({ logger, skipPaths = [] }: AccessLogOptions) =>
  createMiddleware<{ Variables: RequestIdVariables }>(async (c, next) => {
    const started = performance.now()
    await next()
    if (skipPaths.includes(c.req.path)) return
    logger.info(
      {
        requestId: c.get('requestId'),
        method: c.req.method,
        route: routePath(c, -1),
        status: c.res.status,
        durationMs: Math.round((performance.now() - started) * 100) / 100,
      },
      'request',
    )
  })
