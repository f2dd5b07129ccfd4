import type { Context } from 'hono'
import { createMiddleware } from 'hono/factory'
import type { RateLimitKind } from '../../limits/rate-limiter.js'
import type { ServiceVariables } from './services.js'

/**
 * Counts the request against the app's `kind` limit for the subject `subjectOf` names (a client
 * address, a token's subject) before the handler runs; over the limit, the request ends in a 429 with
 * `Retry-After` (the limiter's `rate_limited` error, through the error handler). A request with no
 * subject (`subjectOf` gives undefined) is not counted. Needs `attachServices` mounted first.
 *
 * @example
 * ```ts
 * app.post('/sessions', rateLimit('sessions', clientAddresses(env.trustProxy)))
 * ```
 */
export const rateLimit = <Vars extends ServiceVariables = ServiceVariables>(
  kind: RateLimitKind,
  subjectOf: (c: Context<{ Variables: Vars }>) => string | undefined,
) =>
  createMiddleware<{ Variables: Vars }>(async (c, next) => {
    const subject = subjectOf(c)
    if (subject !== undefined) await c.get('limits').consume(kind, subject)
    await next()
  })
