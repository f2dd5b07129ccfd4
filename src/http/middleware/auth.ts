import { createHash, timingSafeEqual } from 'node:crypto'
import type { Context } from 'hono'
import { createMiddleware } from 'hono/factory'
import { ServiceError } from '../../lib/errors.js'
import type { ServiceVariables } from './services.js'

export interface ApiTokenOptions {
  /** Accepted tokens (API_TOKEN's comma-separated list: several allow rotation). */
  tokens: readonly string[]
}

const digest = (value: string) => createHash('sha256').update(value).digest()

const BEARER = /^Bearer[ ]+(\S+)[ ]*$/i

const unauthenticated = (message: string, challenge: string) =>
  new ServiceError('unauthenticated', 'unauthorized', message, { challenge })

const tokenMissing = () =>
  unauthenticated('An API token is required: Authorization: Bearer <token>', 'Bearer')
const tokenInvalid = () => unauthenticated('The API token is not valid', 'Bearer error="invalid_token"')
const credentialsMissing = () =>
  unauthenticated('A valid session cookie or an API token (Authorization: Bearer) is required', 'Bearer')

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

/** The token of an `Authorization: Bearer` header; null when there is no such header. */
function bearerToken(c: Context): string | null | undefined {
  const header = c.req.header('Authorization')
  if (header === undefined) return null
  return BEARER.exec(header)?.[1]
}

/**
 * Requires `Authorization: Bearer <token>` with one of `tokens` (401 otherwise): for producers and
 * other machine clients.
 *
 * @example
 * ```ts
 * app.post('/buffers/:name/items', apiToken({ tokens: env.apiTokens }), append)
 * ```
 */
export const apiToken = ({ tokens }: ApiTokenOptions) => {
  const matches = tokenMatcher(tokens)
  return createMiddleware(async (c, next) => {
    const token = bearerToken(c)
    if (token === null) throw tokenMissing()
    if (token === undefined || !matches(token)) throw tokenInvalid()
    await next()
  })
}

/**
 * Requires either a valid API token or a live session (the request's session, whose expiry this
 * slides): for readers, which may be machines or browsers (EventSource cannot send an
 * Authorization header, so browsers use the cookie). A token that is presented must be valid: a wrong
 * token is a 401, not a fall-back to the cookie.
 *
 * @example
 * ```ts
 * app.get('/buffers/:name/items', tokenOrSession({ tokens: env.apiTokens }), list)
 * ```
 */
export const tokenOrSession = ({ tokens }: ApiTokenOptions) => {
  const matches = tokenMatcher(tokens)
  return createMiddleware<{ Variables: ServiceVariables }>(async (c, next) => {
    const token = bearerToken(c)
    if (token === null) {
      if ((await c.get('session').current()) === null) throw credentialsMissing()
    } else if (token === undefined || !matches(token)) throw tokenInvalid()
    await next()
  })
}
