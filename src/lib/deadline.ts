/** What a {@link Deadline} rejects with by default once its time is up. */
export class DeadlineExceededError extends Error {
  constructor(readonly timeoutMs: number) {
    super(`no outcome within ${timeoutMs} ms`)
    this.name = 'DeadlineExceededError'
  }
}

export interface DeadlineOptions {
  /** The rejection for work still pending at its deadline. Default: a {@link DeadlineExceededError}. */
  expired?: (timeoutMs: number) => unknown
  /** Maps the rejection of work that failed in time. Default: passed through as it is. */
  failed?: (error: unknown) => unknown
}

/**
 * Told how each piece of work ended and after how long: a way to time work that is bounded anyway,
 * with no promise or closure of its own (the Redis client's command durations, src/redis/stats.ts).
 */
export interface WorkObserver {
  succeeded(ms: number): void
  /** With the rejection the caller gets: the `expired` one at the deadline, else as mapped by `failed`. */
  failed(ms: number, error: unknown): void
}

interface Pending {
  readonly deadline: number
  settled: boolean
  readonly reject: (error: unknown) => void
  readonly observer: WorkObserver | undefined
}

/**
 * The service's one way to bound how long something may take: every Redis reply, the startup
 * handshake, readiness's PING, the live reader's blocking read and a stream's flush on shutdown.
 *
 * One timeout per instance, one timer for all its pending work: with the same timeout for all, deadlines
 * come in the order work started, so the oldest work still pending is always the next to expire, and
 * a queue with one timer armed for its head is enough, where a timer and a `Promise.race` per Redis
 * command would be a visible share of a session read (see doc/architecture.md, "Hot path").
 * The timer never keeps the process alive: the work it bounds does that, or nothing needs waiting for.
 *
 * @example
 * ```ts
 * const replies = new Deadline(2000, { expired: (ms) => new RedisTimeoutError(ms) })
 * const pong = await replies.within(() => client.ping())
 * ```
 */
export class Deadline {
  readonly timeoutMs: number
  readonly #expired: (timeoutMs: number) => unknown
  readonly #failed: (error: unknown) => unknown
  #queue: Pending[] = []
  #head = 0
  #timer: NodeJS.Timeout | undefined

  constructor(
    timeoutMs: number,
    { expired = (ms) => new DeadlineExceededError(ms), failed = (error) => error }: DeadlineOptions = {},
  ) {
    this.timeoutMs = timeoutMs
    this.#expired = expired
    this.#failed = failed
  }

  /**
   * `work`'s value, or its failure (mapped by `failed`), or the `expired` rejection at the deadline.
   * `observer`, when given, is told which of these it was and after how long.
   */
  within<T>(work: () => Promise<T>, observer?: WorkObserver): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const started = performance.now()
      const pending: Pending = { deadline: started + this.timeoutMs, settled: false, reject, observer }
      this.#queue.push(pending)
      this.#timer ??= setTimeout(this.#expire, this.timeoutMs).unref()
      let outcome: Promise<T>
      try {
        outcome = work()
      } catch (error) {
        outcome = Promise.reject(error)
      }
      outcome.then(
        (value) => {
          if (pending.settled) return
          pending.settled = true
          this.#dropSettled()
          observer?.succeeded(performance.now() - started)
          resolve(value)
        },
        (error: unknown) => {
          if (pending.settled) return
          pending.settled = true
          this.#dropSettled()
          const failure = this.#failed(error)
          observer?.failed(performance.now() - started, failure)
          reject(failure)
        },
      )
    })
  }

  /** Fails all work past its deadline, then waits for the next one's. */
  readonly #expire = () => {
    this.#timer = undefined
    const now = performance.now()
    for (let pending = this.#queue[this.#head]; pending && pending.deadline <= now; ) {
      if (!pending.settled) {
        pending.settled = true
        const expired = this.#expired(this.timeoutMs)
        pending.observer?.failed(this.timeoutMs, expired)
        pending.reject(expired)
      }
      pending = this.#queue[++this.#head]
    }
    this.#dropSettled()
    const next = this.#queue[this.#head]
    if (next) this.#timer = setTimeout(this.#expire, next.deadline - now).unref()
  }

  /** Work mostly ends in the order it started, so settled entries leave from the head. */
  #dropSettled(): void {
    while (this.#queue[this.#head]?.settled) this.#head++
    if (this.#head === this.#queue.length) {
      this.#queue.length = 0
      this.#head = 0
    } else if (this.#head > 1024) {
      this.#queue = this.#queue.slice(this.#head)
      this.#head = 0
    }
  }
}
