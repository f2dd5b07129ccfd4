import type { Context } from 'hono'
import { createMiddleware } from 'hono/factory'
import { ServiceError } from '../../lib/errors.js'

export interface RejectCrossSiteOptions {
  /** Origins besides the service's own that may send these requests (ALLOWED_ORIGINS). Default: none. */
  allowedOrigins?: readonly string[]
  /** The methods checked; any other passes untouched. Default: POST, PUT, PATCH, DELETE. */
  methods?: readonly string[]
}

const UNSAFE_METHODS = ['POST', 'PUT', 'PATCH', 'DELETE'] as const

const crossSiteRequest = () =>
  new ServiceError(
    'forbidden',
    'cross_site_request',
    'Cross-site requests may not change sessions: send them from this service or an allowed origin',
  )

/** `scheme://host[:port]` of the service as this request reached it; undefined for a malformed Host. */
function ownOrigin(c: Context): string | undefined {
  const url = new URL(c.req.url)
  try {
    return new URL(`${url.protocol}//${c.req.header('Host') ?? url.host}`).origin
  } catch {
    return undefined
  }
}

/**
 * Whether a browser sent this request on behalf of another site's page. `Sec-Fetch-Site` is set by the
 * browser and no page can forge it; `Origin` is the fallback for browsers that do not send it.
 */
function isCrossSite(c: Context, allowed: ReadonlySet<string>): boolean {
  const origin = c.req.header('Origin')
  // A sandboxed frame, a data: URL, or a redirect across origins: nobody to trust.
  if (origin === 'null') return true
  const listed = origin !== undefined && allowed.has(origin)
  const site = c.req.header('Sec-Fetch-Site')
  // `same-site` is another origin too (a sibling subdomain, another port), never this service itself.
  if (site === 'cross-site' || site === 'same-site') return !listed
  // The browser's own word: it holds even where a TLS-terminating proxy makes the request URL http://.
  if (site === 'same-origin') return false
  // curl, servers, or a browser that sends neither header on this request: not a page's doing.
  if (origin === undefined) return false
  return !listed && origin !== ownOrigin(c)
}

/**
 * Refuses, with 403 `cross_site_request`, an unsafe request (POST, PUT, PATCH, DELETE) that a browser
 * sent from another site's page: `Sec-Fetch-Site` is `cross-site` or `same-site`, or `Origin` is
 * present and is neither the service's own origin (the request URL's scheme with its Host header) nor
 * one of `allowedOrigins`; `Origin: null` is always refused. A request with neither header (curl,
 * server-to-server) passes: cookies ride along only in browsers, and browsers send one or the other on
 * every unsafe request. It reads headers only: no Redis, no body.
 *
 * Why not `hono/csrf` (4.13): it screens only form-like content types (urlencoded, multipart, text/plain,
 * or none), so a cross-site `application/json` request passes it, and it refuses curl's form posts,
 * which send neither header. Why not SameSite=Lax alone: a sibling subdomain is same-site, so the
 * cookie is sent, and `POST /sessions` needs no cookie to replace the visitor's session.
 *
 * Behind a proxy that terminates TLS, the request URL says `http:` while the browser's Origin says
 * `https:`: browsers that send `Sec-Fetch-Site: same-origin` (every current one) still pass; for older
 * ones, list the public origin in ALLOWED_ORIGINS.
 *
 * @example
 * ```ts
 * app.use('/sessions/*', rejectCrossSite({ allowedOrigins: ['https://app.example.com'] }))
 * ```
 */
export const rejectCrossSite = ({
  allowedOrigins = [],
  methods = UNSAFE_METHODS,
}: RejectCrossSiteOptions = {}) => {
  const allowed: ReadonlySet<string> = new Set(allowedOrigins)
  const checked: ReadonlySet<string> = new Set(methods)
  return createMiddleware(async (c, next) => {
    if (checked.has(c.req.method) && isCrossSite(c, allowed)) throw crossSiteRequest()
    await next()
  })
}
