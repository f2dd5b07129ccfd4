import {
  ClientClosedError,
  ClientOfflineError,
  ConnectionTimeoutError,
  DisconnectsClientError,
  ErrorReply,
  ReconnectStrategyError,
  SocketClosedUnexpectedlyError,
  SocketTimeoutError,
  TimeoutError,
} from 'redis'
import { RedisTimeoutError, RedisUnavailableError } from '../errors.js'

/**
 * Error replies that mean "not now" rather than "no": Redis is loading its data after a restart, busy
 * with a script, a replica after a failover, out of memory under `noeviction`, refusing writes after a
 * failed snapshot (MISCONF) or for want of replicas, or a cluster in transition. They pass, so they are a
 * 503 with Retry-After like any outage, never a 500.
 */
const TRANSIENT_REPLY = /^(LOADING|BUSY|READONLY|MASTERDOWN|TRYAGAIN|CLUSTERDOWN|OOM|MISCONF|NOREPLICAS)\b/

export function isTransientReply(error: unknown): error is ErrorReply {
  return error instanceof ErrorReply && TRANSIENT_REPLY.test(error.message)
}

/** node-redis's ways of saying the connection is not there: offline, closed, timed out, reconnecting. */
const CONNECTION_ERRORS = [
  ClientClosedError,
  ClientOfflineError,
  ConnectionTimeoutError,
  DisconnectsClientError,
  ReconnectStrategyError,
  SocketClosedUnexpectedlyError,
  SocketTimeoutError,
  TimeoutError,
]

/** A lost connection: one of node-redis's errors, or the socket's own (ECONNRESET, EPIPE: it has a syscall). */
function isConnectionError(error: unknown): boolean {
  return (
    CONNECTION_ERRORS.some((type) => error instanceof type) || (error instanceof Error && 'syscall' in error)
  )
}

/**
 * Maps a failed command onto what callers handle. An error reply (WRONGTYPE, a script's error, ...) is
 * Redis answering: it passes through, unless it is transient (above). A lost connection (offline while
 * reconnecting: there is no offline queue; the socket closed with the command in flight) means Redis
 * did not answer: 503. Anything else is a bug in the caller and passes through, to be a 500 with its
 * stack in the log rather than an "outage".
 */
export function redisFailure(error: unknown): unknown {
  if (error instanceof RedisUnavailableError) return error
  if (error instanceof ErrorReply ? !isTransientReply(error) : !isConnectionError(error)) return error
  const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error)
  return new RedisUnavailableError(reason, { cause: error })
}

/**
 * Runs one command within `timeoutMs`, failures mapped by {@link redisFailure}. node-redis's own
 * command timeout stops counting once a command is written, so a hung Redis (SIGSTOP, a stuck
 * network) is only bounded here. For commands with their own timeouts (a blocking read); the hot
 * path uses {@link ReplyDeadlines}.
 */
export async function callWithin<T>(command: () => Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new RedisTimeoutError(timeoutMs)), timeoutMs)
  })
  try {
    return await Promise.race([command(), deadline])
  } catch (error) {
    throw redisFailure(error)
  } finally {
    clearTimeout(timer)
  }
}

interface Pending {
  readonly deadline: number
  settled: boolean
  readonly reject: (error: unknown) => void
}

/**
 * Bounds every command of one client by the same timeout, as {@link callWithin} does, with one timer
 * for all of them. A timer and a race per command cost about 1 µs of a 40 µs session read. With one
 * timeout for all, deadlines come in the order commands were sent: the oldest command still waiting
 * is always the next to expire, so a queue and one timer armed for its head are enough.
 */
export class ReplyDeadlines {
  readonly #timeoutMs: number
  #queue: Pending[] = []
  #head = 0
  #timer: NodeJS.Timeout | undefined

  constructor(timeoutMs: number) {
    this.#timeoutMs = timeoutMs
  }

  /** The command's reply, or its failure mapped by {@link redisFailure}, or "no reply" at the deadline. */
  call<T>(command: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const pending: Pending = { deadline: performance.now() + this.#timeoutMs, settled: false, reject }
      this.#queue.push(pending)
      this.#timer ??= setTimeout(this.#expire, this.#timeoutMs).unref()
      const settle = () => {
        pending.settled = true
        this.#dropSettled()
      }
      let reply: Promise<T>
      try {
        reply = command()
      } catch (error) {
        reply = Promise.reject(error)
      }
      reply.then(
        (value) => {
          settle()
          resolve(value)
        },
        (error: unknown) => {
          settle()
          reject(redisFailure(error))
        },
      )
    })
  }

  /** Fails every command past its deadline, then waits for the next one's. */
  readonly #expire = () => {
    this.#timer = undefined
    const now = performance.now()
    for (let pending = this.#queue[this.#head]; pending && pending.deadline <= now; ) {
      if (!pending.settled) {
        pending.settled = true
        pending.reject(new RedisTimeoutError(this.#timeoutMs))
      }
      pending = this.#queue[++this.#head]
    }
    this.#dropSettled()
    const next = this.#queue[this.#head]
    if (next) this.#timer = setTimeout(this.#expire, next.deadline - now).unref()
  }

  /** Replies mostly come in order, so settled commands leave from the head. */
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
