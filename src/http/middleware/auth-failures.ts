import { createMiddleware } from 'hono/factory'
import { ServiceError } from '../../lib/errors.js'
import { RedisUnavailableError } from '../../redis/failures.js'
import { clientAddress } from '../client-address.js'
import type { ServiceVariables } from './services.js'

export interface AuthFailureOptions {
  /** TRUST_PROXY: whose X-Forwarded-For names the client. */
  trustProxy: readonly string[]
}

/**
 * Counts every failed authentication (a 401) against the client address's `authFailures` limit
 * (RATE_LIMIT_AUTH_FAILURES_PER_MINUTE); past it, the client gets 429 with Retry-After instead of 401
 * until its budget refills. Only failures cost a Redis round trip: a successful request is never slowed
 * down. Should Redis fail meanwhile, the 401 stands: a lost count must not lock anyone out.
 *
 * @example
 * ```ts
 * app.use(attachServices(services), countAuthFailures({ trustProxy: env.trustProxy }))
 * ```
 */
export const countAuthFailures = ({ trustProxy }: AuthFailureOptions) =>
  createMiddleware<{ Variables: ServiceVariables }>(async (c, next) => {
    await next()
    // Hono hands a failure to the error handler where it happens; `c.error` is what it handled.
    const failure = c.error
    if (!(failure instanceof ServiceError && failure.kind === 'unauthenticated')) return
    // Over the limit, the limiter's 429 replaces the 401 (thrown here, it reaches the error handler).
    await c
      .get('limits')
      .consume('authFailures', clientAddress(c, trustProxy))
      .catch((error: unknown) => {
        if (!(error instanceof RedisUnavailableError)) throw error
      })
  })
