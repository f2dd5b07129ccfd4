import { ServiceError } from '../lib/errors.js'
import type { RedisCommands, Script } from '../redis/client.js'
import { keys } from '../redis/keys.js'
import { readLuaScript } from '../redis/scripts.js'

/**
 * What is limited, and per what:
 * - `sessions`: session creations per client address;
 * - `authFailures`: failed authentications per client address;
 * - `appends`: buffer appends per subject (whoever the caller authenticated as).
 */
export type RateLimitKind = 'sessions' | 'authFailures' | 'appends'

export interface RateLimiterOptions {
  /** Attempts each kind allows per window (RATE_LIMIT_*_PER_MINUTE). */
  limits: Readonly<Record<RateLimitKind, number>>
  /** The window the limits count over, in ms. A minute; tests shorten it. */
  windowMs?: number
}

/** allowed (1 or 0), and the ms until an attempt would be allowed (0 when allowed). */
type Reply = [allowed: 0 | 1, waitMs: number]

/**
 * Rate limits shared by every replica: each check is one EVALSHA of `src/redis/scripts/rate-limit.lua`,
 * which decides on Redis's clock and state, so N replicas together allow exactly what one would.
 *
 * A limit of N per window is a budget of N attempts that refills continuously, one attempt every
 * window / N (GCRA): N may come at once, the N+1th waits window / N after the first, and a subject that
 * stayed away for a whole window has N again. Within one window a subject gets up to 2N (a full
 * budget, then what refills during the window); over a long time, N per window.
 *
 * Built once per app; it loads its own script.
 *
 * @example
 * ```ts
 * const limits = new RateLimiter(redis, { limits: { sessions: 30, authFailures: 30, appends: 6000 } })
 * await limits.consume('sessions', address) // throws ServiceError('rate_limited', ...) when over
 * ```
 */
export class RateLimiter {
  readonly #script: Script<Reply>
  readonly #limits: Readonly<Record<RateLimitKind, number>>
  readonly #windowMs: number

  constructor(redis: RedisCommands, { limits, windowMs = 60_000 }: RateLimiterOptions) {
    this.#script = redis.createScript(readLuaScript('rate-limit'))
    this.#limits = limits
    this.#windowMs = windowMs
  }

  /**
   * Counts one attempt of `subject` against the `kind` limit. Resolves when it is allowed; rejects with a
   * `rate_limited` ServiceError (code `rate_limited`, with `retryAfterSeconds`) when it is not, and the
   * refused attempt is not counted. Redis trouble rejects as any Redis call does (503).
   */
  consume(kind: RateLimitKind, subject: string): Promise<void> {
    return this.#run(kind, subject, '1')
  }

  /**
   * Rejects as {@link consume} would, without counting anything: for a limit on failures, a caller
   * checks before the attempt and consumes only when it fails.
   */
  check(kind: RateLimitKind, subject: string): Promise<void> {
    return this.#run(kind, subject, '0')
  }

  async #run(kind: RateLimitKind, subject: string, record: '0' | '1'): Promise<void> {
    const [allowed, waitMs] = await this.#script.exec(
      [keys.rateLimit(kind, subject)],
      [String(this.#limits[kind]), String(this.#windowMs), record],
    )
    if (allowed === 1) return
    throw new ServiceError('rate_limited', 'rate_limited', 'Too many requests, retry later', {
      retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)),
    })
  }
}
