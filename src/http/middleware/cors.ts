import { cors } from 'hono/cors'
import { createMiddleware } from 'hono/factory'

export interface AllowOriginsOptions {
  /** Origins whose pages may call the service with credentials (ALLOWED_ORIGINS). Default: none. */
  origins?: readonly string[]
  /** Response headers those pages may read besides the safelisted ones. */
  exposeHeaders?: readonly string[]
  /** Request headers those pages may send besides the safelisted ones. */
  allowHeaders?: readonly string[]
  /** How long a browser may reuse a preflight's answer, in seconds. Default: 600. */
  maxAgeSeconds?: number
}

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE']
/** The request id (for support), when to come back after a 503, and how to authenticate after a 401. */
const EXPOSE_HEADERS = ['X-Request-Id', 'Retry-After', 'WWW-Authenticate']
const ALLOW_HEADERS = ['Content-Type', 'Authorization', 'Last-Event-ID']

/**
 * CORS with credentials for the pages of `origins` only: each gets its own origin echoed in
 * `Access-Control-Allow-Origin` with `Access-Control-Allow-Credentials: true`, never `*`; any other
 * origin gets no `Access-Control-*` header at all, and with no origins listed (the default) nothing is
 * added to any response. Responses vary by Origin whenever a list is set. Mount it before anything
 * that reads Redis: a preflight (OPTIONS with Access-Control-Request-Method) is answered 204 here.
 *
 * Preflights go through `hono/cors`. Other requests get their headers from `c.header()` before
 * `next()` instead, for two reasons. `hono/cors` (4.13) appends `Vary: Origin` after `next()`: too late
 * for an event stream, whose head src/sse/event-stream.ts writes on Node from the headers set before
 * the handler returned, so a cache could serve one origin's stream head to another. And it sends
 * `Access-Control-Allow-Credentials` and the exposed headers to every origin, listed or not. Set this
 * way, every response (errors and event streams included) carries the same headers, and a
 * cross-origin EventSource (`withCredentials: true`) can read its stream.
 *
 * @example
 * ```ts
 * app.use(allowOrigins({ origins: ['https://app.example.com'] }))
 * ```
 */
export const allowOrigins = ({
  origins = [],
  exposeHeaders = EXPOSE_HEADERS,
  allowHeaders = ALLOW_HEADERS,
  maxAgeSeconds = 600,
}: AllowOriginsOptions = {}) => {
  const allowed: ReadonlySet<string> = new Set(origins)
  const listed = (origin: string | undefined): origin is string => origin !== undefined && allowed.has(origin)
  const exposed = exposeHeaders.join(', ')
  const preflight = cors({
    origin: (origin) => (listed(origin) ? origin : null),
    credentials: true,
    allowMethods: METHODS,
    allowHeaders: [...allowHeaders],
    maxAge: maxAgeSeconds,
  })
  return createMiddleware(async (c, next) => {
    const origin = c.req.header('Origin')
    if (c.req.method === 'OPTIONS' && c.req.header('Access-Control-Request-Method') !== undefined) {
      return listed(origin) ? preflight(c, next) : c.body(null, 204, { Vary: 'Origin' })
    }
    c.header('Vary', 'Origin', { append: true })
    if (listed(origin)) {
      c.header('Access-Control-Allow-Origin', origin)
      c.header('Access-Control-Allow-Credentials', 'true')
      if (exposed) c.header('Access-Control-Expose-Headers', exposed)
    }
    await next()
  })
}
