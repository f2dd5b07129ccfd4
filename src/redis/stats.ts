import { ErrorReply } from 'redis'
import type { WorkObserver } from '../lib/deadline.js'
import { BucketHistogram } from '../lib/histogram.js'
import { RedisTimeoutError, RedisUnavailableError } from './failures.js'
import type { KeyFamily } from './keys.js'

/** The command families of the duration histogram: the key families, and readiness's probe. */
export type CommandFamily = KeyFamily | 'ping'

/**
 * Why a command failed: no reply in time (`timeout`), the connection was not there or was lost
 * (`connection`), or Redis answered with an error (`reply`: WRONGTYPE, a script's error, and the
 * transient LOADING, READONLY, OOM... which the service treats as an outage).
 */
export type CommandErrorClass = 'timeout' | 'connection' | 'reply'

/** A connection the service holds: the shared command connection, and each app's live reader. */
export type ConnectionRole = 'commands' | 'live_reader'

/** What a blocked read (XREAD BLOCK) of the live reader came back with. */
export type LiveReadOutcome = 'items' | 'empty' | 'error'

/** Seconds: from a tenth of a millisecond (a GETEX on a local Redis) to REDIS_COMMAND_TIMEOUT_MS's range. */
export const COMMAND_DURATION_BUCKETS = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
] as const

function errorClass(error: unknown): CommandErrorClass | undefined {
  if (error instanceof RedisTimeoutError) return 'timeout'
  if (error instanceof RedisUnavailableError)
    return error.cause instanceof ErrorReply ? 'reply' : 'connection'
  if (error instanceof ErrorReply) return 'reply'
  // Anything else is a bug of the caller (a 500 with its stack in the log), not a Redis failure.
  return undefined
}

/** One family's durations; failures also count in the connection's errors by class. */
class FamilyTimings implements WorkObserver {
  readonly durations = new BucketHistogram(COMMAND_DURATION_BUCKETS)

  constructor(private readonly errors: Record<CommandErrorClass, number>) {}

  succeeded(ms: number): void {
    this.durations.observe(ms / 1000)
  }

  failed(ms: number, error: unknown): void {
    this.durations.observe(ms / 1000)
    const kind = errorClass(error)
    if (kind) this.errors[kind]++
  }
}

/**
 * The counters of one Redis connection and the live readers opened from it: plain numbers, counted
 * as commands complete and read by each app's metrics when they are scraped (`hrs_redis_*`, see
 * src/process/metrics.ts). They belong to the connection, which exists before any app is built on it.
 */
export class RedisStats {
  /** Command errors by class, on the command connection. */
  readonly errors: Record<CommandErrorClass, number> = { timeout: 0, connection: 0, reply: 0 }
  /** Each family's command durations (successes and failures; a timeout counts as the timeout). */
  readonly commands: Readonly<Record<CommandFamily, FamilyTimings>>
  /** Connections lost and established again, after the first. */
  readonly reconnects: Record<ConnectionRole, number> = { commands: 0, live_reader: 0 }
  /** The live readers' blocked-read cycles, by what each came back with. */
  readonly liveReads: Record<LiveReadOutcome, number> = { items: 0, empty: 0, error: 0 }

  /** `commandsUp`: whether the command connection is usable right now. */
  constructor(readonly commandsUp: () => boolean) {
    const timings = (): FamilyTimings => new FamilyTimings(this.errors)
    this.commands = {
      session: timings(),
      buffer: timings(),
      limit: timings(),
      ping: timings(),
      other: timings(),
    }
  }
}

/** What a live reader counts (see createStreamReader). */
export type LiveReaderStats = Pick<RedisStats, 'reconnects' | 'liveReads'>
