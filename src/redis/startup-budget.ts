import { setTimeout as sleep } from 'node:timers/promises'
import { Deadline, DeadlineExceededError } from '../lib/deadline.js'

/**
 * Why startup could not reach Redis within REDIS_CONNECT_TIMEOUT_MS, or why Redis refused it outright;
 * main.ts turns it into exit code 69.
 */
export class RedisStartupError extends Error {
  constructor(
    /** What was being reached, safe to print (no password). */
    readonly target: string,
    readonly budgetMs: number,
    readonly lastReason: string,
    /** Redis answered the handshake with a refusal no retry changes (a wrong password, a database index it lacks). */
    readonly refused = false,
  ) {
    super(
      refused
        ? `Redis at ${target} refused the connection. Last reason: ${lastReason}`
        : `Could not connect to Redis at ${target} within ${budgetMs} ms. Last reason: ${lastReason}`,
    )
    this.name = 'RedisStartupError'
  }
}

/** An error as a startup reason: its message, or its name when it has none. */
export const reasonOf = (error: unknown): string =>
  error instanceof Error ? error.message || error.name : String(error)

/**
 * Why one of the servers startup asks first (a sentinel, a seed node) gave no answer: its error, or that
 * it did not answer within the budget (its question is bounded by it, see {@link StartupBudget.within}).
 */
export const probeReason = (error: unknown): string =>
  error instanceof DeadlineExceededError
    ? 'no answer in time (packets dropped by a firewall, or rediss:// to a server without TLS)'
    : reasonOf(error)

/** How long startup waits between two attempts at a topology that is not there yet. */
const RETRY_PAUSE_MS = 100

/**
 * Startup's time, REDIS_CONNECT_TIMEOUT_MS, shared by every attempt at reaching a topology, and the
 * reason the last one failed: each topology retries until it is reachable or the budget is spent, then
 * says why it gave up. The same budget and the same exit 69 in every mode.
 *
 * @example
 * ```ts
 * const budget = new StartupBudget(env.redisConnectTimeoutMs, 'redis://127.0.0.1:6379')
 * for (;;) {
 *   try {
 *     return await budget.within(() => attempt())
 *   } catch (error) {
 *     await budget.failed(error) // throws RedisStartupError once the budget is spent
 *   }
 * }
 * ```
 */
export class StartupBudget {
  readonly #giveUpAt: number
  #lastReason: string
  #noted = false

  constructor(
    readonly budgetMs: number,
    readonly target: string,
    initialReason = 'no answer from Redis',
  ) {
    this.#giveUpAt = performance.now() + budgetMs
    this.#lastReason = initialReason
  }

  get remainingMs(): number {
    return Math.max(0, this.#giveUpAt - performance.now())
  }

  get lastReason(): string {
    return this.#lastReason
  }

  /** Records why an attempt failed, so the final error says it. */
  note(reason: string): void {
    this.#lastReason = reason
    this.#noted = true
  }

  /**
   * For a round of questions each bounded by the budget (see {@link probeReason}): when every one ran out
   * of it and an earlier attempt already failed for a reason of its own, the expiry, to rethrow, so that
   * {@link failed} keeps that reason rather than "no answer in time" from the attempt the budget cut short.
   */
  cutShort(answers: readonly PromiseSettledResult<unknown>[]): DeadlineExceededError | undefined {
    if (!this.#noted) return undefined
    const expiries = answers.flatMap((answer) =>
      answer.status === 'rejected' && answer.reason instanceof DeadlineExceededError ? [answer.reason] : [],
    )
    return expiries.length === answers.length ? expiries[0] : undefined
  }

  /** `work`, bounded by what is left of the budget (rejects with DeadlineExceededError past it). */
  within<T>(work: () => Promise<T>): Promise<T> {
    return new Deadline(this.remainingMs).within(work)
  }

  /**
   * After a failed attempt: records its reason (a deadline's expiry keeps the reason seen before it),
   * then throws {@link RedisStartupError} if the budget is spent, or pauses before the next attempt.
   */
  async failed(error: unknown): Promise<void> {
    if (!(error instanceof DeadlineExceededError)) {
      this.note(reasonOf(error))
    }
    if (this.remainingMs <= 0) throw this.exhausted()
    await sleep(Math.min(RETRY_PAUSE_MS, this.remainingMs))
    if (this.remainingMs <= 0) throw this.exhausted()
  }

  exhausted(): RedisStartupError {
    return new RedisStartupError(this.target, this.budgetMs, this.#lastReason)
  }

  /** Startup ends at once: Redis refused it for a reason waiting does not change. */
  refused(reason: string): RedisStartupError {
    return new RedisStartupError(this.target, this.budgetMs, reason, true)
  }
}
