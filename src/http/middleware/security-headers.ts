import { createMiddleware } from 'hono/factory'

export interface SecurityHeadersOptions {
  /**
   * Path prefixes whose every response is `Cache-Control: no-store`: those that carry session data.
   * A prefix covers itself and what is below it (`/sessions` covers `/sessions/current`). Default: none.
   */
  noStorePaths?: readonly string[]
}

/**
 * Headers every response carries: `X-Content-Type-Options: nosniff` (a JSON body or an event stream is
 * never run as a script or rendered as HTML) and `Referrer-Policy: no-referrer` (buffer names and
 * query strings never leave in a Referer). `Cache-Control: no-store` goes on every response under
 * `noStorePaths`, and on any other response that sets a cookie (a shared cache must not hand one
 * visitor's cookie to the next).
 *
 * The headers are set with `c.header()` before `next()`, so they reach every response, errors and SSE
 * included: on @hono/node-server src/sse/event-stream.ts writes a stream's head itself, from the headers
 * set before the handler returned, and nothing set after `next()` reaches it. That is why this is not
 * `hono/secure-headers`, which sets its headers on `c.res` after `next()`. For the same reason the
 * Set-Cookie rule cannot reach a stream's head: event-stream.ts itself says `no-store` instead of
 * `no-cache` on a stream that sets a cookie.
 *
 * @example
 * ```ts
 * app.use(securityHeaders({ noStorePaths: ['/sessions'] }))
 * ```
 */
export const securityHeaders = ({ noStorePaths = [] }: SecurityHeadersOptions = {}) => {
  const covered = (path: string) =>
    noStorePaths.some((prefix) => path === prefix || path.startsWith(`${prefix}/`))
  return createMiddleware(async (c, next) => {
    c.header('X-Content-Type-Options', 'nosniff')
    c.header('Referrer-Policy', 'no-referrer')
    if (covered(c.req.path)) c.header('Cache-Control', 'no-store')
    await next()
    // An SSE response on Node is RESPONSE_ALREADY_SENT here, whose head is already on the wire (and
    // which carries no Set-Cookie itself, so it is left alone).
    if (c.res.headers.has('Set-Cookie')) c.res.headers.set('Cache-Control', 'no-store')
  })
}
