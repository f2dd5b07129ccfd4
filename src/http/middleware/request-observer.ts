import { createMiddleware } from 'hono/factory'
import type { RequestIdVariables } from 'hono/request-id'
import { routePath } from 'hono/route'
import type { FailureVariables } from './error-handler.js'

/** What an observer learns about each answered request. */
export interface ObservedRequest {
  method: string
  /** The matched route (`/buffers/:name`), never the raw path, whose ids would be unbounded. */
  route: string
  path: string
  status: number
  /** Until the handler returned: for a stream, the time to its first byte. */
  durationMs: number
  /** Set when `requestId()` runs first. */
  requestId: string | undefined
  /** For a response of 400 or more from the error handler: its error body's `code`. */
  failureCode: string | undefined
}

export type RequestObserver = (request: ObservedRequest) => void

/**
 * Times each request once and tells every observer (the access log, the metrics) about it. One
 * middleware for all of them means one clock reading and one route lookup per request, and one
 * layer fewer on the hot path than a middleware per observer.
 *
 * @example
 * ```ts
 * app.use(requestId(), observeRequests(accessLog({ logger }), requestMetrics({ metrics })))
 * ```
 */
export const observeRequests = (...observers: RequestObserver[]) =>
  createMiddleware<{ Variables: RequestIdVariables & Partial<FailureVariables> }>(async (c, next) => {
    const started = performance.now()
    await next()
    const status = c.res.status
    const request: ObservedRequest = {
      method: c.req.method,
      route: routePath(c, -1),
      path: c.req.path,
      status,
      durationMs: performance.now() - started,
      requestId: c.get('requestId'),
      // Looked up for failures only: a success costs no extra lookup.
      failureCode: status >= 400 ? c.get('failureCode') : undefined,
    }
    for (const observe of observers) observe(request)
  })
