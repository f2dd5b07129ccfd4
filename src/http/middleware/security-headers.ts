import { type OutgoingHttpHeader, type OutgoingHttpHeaders, ServerResponse } from 'node:http'
import { createMiddleware } from 'hono/factory'

/**
 * Headers every response carries: `X-Content-Type-Options: nosniff` (a JSON body or an event stream is
 * never run as a script or rendered as HTML) and `Referrer-Policy: no-referrer` (buffer names and
 * query strings never leave in a Referer). A response that sets a cookie is also `Cache-Control:
 * no-store`: a shared cache must never hand one visitor's session to the next.
 */
const CONSTANT_HEADERS = { 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer' } as const

/**
 * The Node response the server is created with (see main.ts): it adds the headers above as its head is
 * written, whoever writes it (Hono's adapter, or an event stream on its fast path). Set through Hono,
 * each header would go through a web `Headers` object, which validates, sorts and copies it on every
 * request: the three cost a session read about a tenth of its throughput (doc/architecture.md, "Hot
 * path"); here they are property writes on the object `writeHead` is given.
 */
export class SecureServerResponse extends ServerResponse {
  override writeHead(
    statusCode: number,
    reasonOrHeaders?: string | OutgoingHttpHeaders | OutgoingHttpHeader[],
    maybeHeaders?: OutgoingHttpHeaders | OutgoingHttpHeader[],
  ): this {
    const headers = typeof reasonOrHeaders === 'string' ? maybeHeaders : reasonOrHeaders
    if (headers && !Array.isArray(headers)) {
      Object.assign(headers, CONSTANT_HEADERS)
      if (headers['set-cookie'] !== undefined) headers['cache-control'] = 'no-store'
    } else if (!headers) {
      for (const [name, value] of Object.entries(CONSTANT_HEADERS)) this.setHeader(name, value)
    }
    return typeof reasonOrHeaders === 'string'
      ? super.writeHead(statusCode, reasonOrHeaders, headers ?? undefined)
      : super.writeHead(statusCode, headers ?? undefined)
  }
}

/**
 * The same headers where the server does not add them: `app.request()` in tests and other runtimes.
 * A pass-through on a {@link SecureServerResponse}.
 *
 * @example
 * ```ts
 * app.use(securityHeaders())
 * serve({ fetch: app.fetch, serverOptions: { ServerResponse: SecureServerResponse } })
 * ```
 */
export const securityHeaders = () =>
  createMiddleware(async (c, next) => {
    if ((c.env as { outgoing?: unknown } | undefined)?.outgoing instanceof SecureServerResponse) return next()
    for (const [name, value] of Object.entries(CONSTANT_HEADERS)) c.header(name, value)
    await next()
    if (c.res.headers.has('set-cookie')) c.res.headers.set('cache-control', 'no-store')
  })
