import { createHash, timingSafeEqual } from 'node:crypto'
import type { Context, Env } from 'hono'
import { createMiddleware } from 'hono/factory'
import type { GrantTokens, VerifiedGrant } from '../../access/grant-tokens.js'
import { type Access, allows, type Grant } from '../../access/grants.js'
import { ServiceError } from '../../lib/errors.js'
import { grantOf, type SessionAbsence } from '../../sessions/service.js'
import type { ServiceVariables } from './services.js'

export interface AuthOptions {
  /** API_TOKEN: every buffer operation, the session admin API and /metrics. */
  adminTokens: readonly string[]
  /** METRICS_TOKEN: /metrics and nothing else. */
  metricsTokens: readonly string[]
  /** Verifies grant tokens (GRANT_SECRET, GRANT_PUBLIC_KEYS_FILE). */
  grantTokens: GrantTokens
}

/** Who a buffer request acts for, for what it opens: a stream ends when its credential does. */
export interface Principal {
  /** The user, for a grant token or a bound session. */
  sub?: string
  /** The session whose cookie authorised the request. */
  sessionId?: string
  /** When the grant that authorised the request ends, ms since the epoch. */
  grantExpiresAt?: number
}

export interface AuthVariables {
  principal: Principal
}

/** A valid bearer credential. */
type Bearer = { kind: 'admin' } | { kind: 'metrics' } | ({ kind: 'grant' } & VerifiedGrant)

const BEARER = /^Bearer[ ]+(\S+)[ ]*$/i
/** Three base64url segments: a JWS in compact form, so a grant token, not an API token. */
const COMPACT_JWS = /^[\w-]*\.[\w-]*\.[\w-]*$/

/** `reason`: why, for the metrics (`hrs_auth_failures_total`); see AUTH_FAILURE_REASONS. */
const unauthenticated = (message: string, challenge: string, reason: string) =>
  new ServiceError('unauthenticated', 'unauthorized', message, { challenge, subcode: reason })

const tokenMissing = () =>
  unauthenticated('An API token is required: Authorization: Bearer <token>', 'Bearer', 'missing')
const tokenInvalid = () =>
  unauthenticated('The API token is not valid', 'Bearer error="invalid_token"', 'invalid_token')
const credentialsMissing = (reason: SessionAbsence) =>
  unauthenticated('A valid session cookie or a token (Authorization: Bearer) is required', 'Bearer', reason)
const bearerRequired = () =>
  unauthenticated(
    'Writes need a token (Authorization: Bearer): a session cookie never writes',
    'Bearer',
    'missing',
  )
const notCovered = (what: string) =>
  new ServiceError('forbidden', 'forbidden', `These credentials do not allow ${what}`, {
    challenge: 'Bearer error="insufficient_scope"',
  })

/** The buffer a route names (`:name`). */
const routeName = (c: Context): readonly string[] => [c.req.param('name') ?? '']

const digest = (value: string) => createHash('sha256').update(value).digest()

/**
 * Checks a presented token against every accepted one in constant time: digests make the lengths
 * equal, and every token is compared, so neither the length nor the position of a match leaks.
 */
function tokenMatcher(tokens: readonly string[]): (presented: string) => boolean {
  const accepted = tokens.map(digest)
  return (presented) => {
    const candidate = digest(presented)
    let matched = false
    for (const token of accepted) matched = timingSafeEqual(token, candidate) || matched
    return matched
  }
}

/**
 * Authentication and authorisation: one factory per kind of route, all sharing one way to read a
 * bearer credential. See doc/security.md for the table of who may do what.
 *
 * - `admin`: the admin token only (the session admin API).
 * - `metrics`: the admin or the metrics token.
 * - `buffer(access, namesOf?)`: the admin token; a grant token whose grant covers the buffer; or, to
 *   read, a session whose grant covers it. A cookie never authorises a write. Sets `principal`. The
 *   buffer is the route's `:name`, or every one of `namesOf(c)`: all must be covered.
 *
 * A credential that is missing or invalid is a 401; a valid one that does not cover the request a 403.
 *
 * @example
 * ```ts
 * const auth = authorization({ adminTokens, metricsTokens, grantTokens })
 * app.post('/buffers/:name/items', auth.buffer('write'), append)
 * ```
 */
export function authorization({ adminTokens, metricsTokens, grantTokens }: AuthOptions) {
  const isAdmin = tokenMatcher(adminTokens)
  const isMetrics = tokenMatcher(metricsTokens)

  /** The request's bearer credential; null without an Authorization header; 401 when invalid. */
  async function bearer(c: Context): Promise<Bearer | null> {
    const header = c.req.header('Authorization')
    if (header === undefined) return null
    const token = BEARER.exec(header)?.[1]
    if (token === undefined) throw tokenInvalid()
    if (isAdmin(token)) return { kind: 'admin' }
    if (isMetrics(token)) return { kind: 'metrics' }
    if (!COMPACT_JWS.test(token)) throw tokenInvalid()
    return { kind: 'grant', ...(await grantTokens.verify(token)) }
  }

  const requireBearer = (allowed: readonly Bearer['kind'][], what: string) =>
    createMiddleware<Env>(async (c, next) => {
      const credential = await bearer(c)
      if (credential === null) throw tokenMissing()
      if (!allowed.includes(credential.kind)) throw notCovered(what)
      await next()
    })

  return {
    admin: requireBearer(['admin'], 'the session admin API'),
    metrics: requireBearer(['admin', 'metrics'], 'reading metrics'),
    buffer: (access: Access, namesOf: (c: Context) => readonly string[] = routeName) =>
      createMiddleware<{ Variables: ServiceVariables & AuthVariables }>(async (c, next) => {
        const names = namesOf(c)
        const what = (name: string | undefined) =>
          `${access === 'read' ? 'reading' : 'writing'} buffer ${name ?? ''}`
        /** Throws for the first of the names `grant` does not cover. */
        const requireAll = (grant: Grant) => {
          const uncovered = names.find((name) => !allows(grant, access, name))
          if (uncovered !== undefined) throw notCovered(what(uncovered))
        }
        const credential = await bearer(c)
        if (credential?.kind === 'admin') {
          c.set('principal', {})
        } else if (credential?.kind === 'grant') {
          requireAll(credential.grant)
          c.set('principal', { sub: credential.sub, grantExpiresAt: credential.expiresAt })
        } else if (credential) {
          throw notCovered(what(names[0]))
        } else if (access === 'write') {
          throw bearerRequired()
        } else {
          const session = await c.get('session').current()
          if (session === null) throw credentialsMissing(c.get('session').absence())
          requireAll(grantOf(session))
          c.set('principal', {
            sub: session.binding?.sub,
            sessionId: session.id,
            grantExpiresAt: session.binding?.grantExpiresAt,
          })
        }
        await next()
      }),
  }
}
