import type { Context } from 'hono'
import type { RateLimiter } from '../../limits/rate-limiter.js'
import { RedisUnavailableError } from '../../redis/failures.js'

/**
 * Counts a failed authentication (a 401) against its client address's `authFailures` limit
 * (RATE_LIMIT_AUTH_FAILURES_PER_MINUTE) and rejects with the limiter's 429 once the budget is spent.
 * The error handler calls it for every 401, so failures cost a Redis round trip and successes never do.
 * Should Redis fail meanwhile, the 401 stands: a lost count must not lock anyone out.
 *
 * @example
 * ```ts
 * app.onError(handleError(logger, { countAuthFailure: authFailureCounter(limits, addressOf) }))
 * ```
 */
export const authFailureCounter =
  (limits: RateLimiter, addressOf: (c: Context) => string) =>
  async (c: Context): Promise<void> => {
    try {
      await limits.consume('authFailures', addressOf(c))
    } catch (error) {
      if (!(error instanceof RedisUnavailableError)) throw error
    }
  }
