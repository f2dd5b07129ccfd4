import { createHash } from 'node:crypto'
import { ErrorReply } from 'redis'
import type { ReplicaWait } from '../env.js'
import { replyDeadline } from './failures.js'
import { keyFamily } from './keys.js'
import { createNotifiedStreamReader } from './notified-stream-reader.js'
import { type CommandFamily, RedisStats } from './stats.js'
import { createStreamReader, type StreamReader } from './stream-reader.js'
import type { Topology } from './topology.js'

// For the stores, which do not read the configuration themselves.
export type { ReplicaWait } from '../env.js'

/**
 * The Redis commands the stores (sessions, buffers, limits) are written against: exactly a subset of
 * @upstash/redis's `Redis`, names, argument shapes and replies (tests/redis/upstash.test-d.ts checks it
 * at compile time), so the stores could run on an edge runtime with Upstash's client; here it is a thin
 * layer over node-redis. Replies are Redis's own, strings as stored: Upstash's client with
 * `automaticDeserialization: false`. A store checks what it reads, so that a value it did not write is
 * never taken for one it did.
 *
 * It holds the commands the stores use, no more. Every method either resolves with Redis's answer,
 * rejects with RedisUnavailableError when Redis cannot answer in time (disconnected, reconnecting or
 * hung: there is no offline queue), or rejects with Redis's own error reply.
 */
export interface RedisCommands {
  /** GET and set the expiry in one command (GETEX); nothing is created when the key is missing. */
  getex(key: string, opts: { ex: number }): Promise<unknown>
  del(...keys: string[]): Promise<number>
  /** A key's time to live in ms: -1 without an expiry, -2 when the key does not exist. */
  pttl(key: string): Promise<number>
  /** Sets a key's time to live in ms: 1, or 0 when the key does not exist. */
  pexpire(key: string, ms: number): Promise<number>
  /** A Lua script run by SHA (EVALSHA, then EVAL on NOSCRIPT), like Upstash's. */
  createScript<TResult = unknown>(source: string): Script<TResult>
}

/**
 * Scripts whose writes replicas confirm before they count as done (REDIS_APPEND_WAIT_REPLICAS). WAIT
 * counts the writes of its own connection, which a REST transport (Upstash's) does not have, and cannot
 * run inside a script: so it is an interface of its own, not part of {@link RedisCommands}.
 */
export interface ReplicatedScripts {
  /**
   * Like createScript, but each run is followed by `WAIT replicas timeoutMs` on the same connection, in
   * the same write (a pipeline, on the master that serves the script's first key), a connection of its
   * own, since WAIT blocks the connection it runs on (wait-connection.ts): it resolves with the
   * script's reply and how many replicas confirmed they hold it (and every earlier write of that
   * connection) within `wait.timeoutMs`. Fewer than asked is the caller's to judge; the script ran.
   */
  createReplicatedScript<TResult = unknown>(source: string, wait: ReplicaWait): Script<Replicated<TResult>>
}

export interface Replicated<TResult> {
  reply: TResult
  /** How many replicas acknowledged the write in time (WAIT's reply). */
  replicas: number
}

/**
 * The Redis connection an app is built with: the stores' commands, and what only a connection of our
 * own offers, which Upstash's REST client does not: the live reader's blocking reads, writes confirmed
 * by replicas, the server's role, the connection's counters.
 */
export interface Redis extends RedisCommands, ReplicatedScripts {
  /**
   * PING every master: the one server, the sentinels' current master, or each master of a cluster (which
   * must also say cluster_state:ok, else it rejects with ClusterStateError).
   */
  ping(): Promise<string>
  /**
   * The server's replication role as HELLO reports it: 'master' takes writes; 'replica' (a read-only
   * replica, e.g. the old primary after a failover) and 'sentinel' do not. Undefined when the server
   * does not say (HELLO without arguments needs Redis 6.2). HELLO, not ROLE: ROLE is an @admin command,
   * which an application's ACL user often lacks, while every connection may send HELLO. On a cluster,
   * every master's: the first that is not 'master', if any.
   */
  role(): Promise<string | undefined>
  /**
   * A new live reader, which a REST transport cannot offer: see StreamReader. Standalone and Sentinel:
   * a dedicated connection for blocking reads (XREAD BLOCK), opened on first read to the master. On a
   * cluster: announced non-blocking reads over node-redis's per-shard connections
   * (notified-stream-reader.ts), so one read may follow streams of every slot.
   */
  createStreamReader(): StreamReader
  /**
   * The connection's counters (command durations by family, errors by class, reconnects, the live
   * readers' cycles), read by the app's metrics when scraped.
   */
  readonly stats: RedisStats
}

export interface Script<TResult> {
  exec(keys: string[], args: string[]): Promise<TResult>
}

type Call = <T>(command: () => Promise<T>, family?: CommandFamily) => Promise<T>

/** A script's runs, each bounded by `call` and timed under the family of its first key. */
function scriptRuns<TResult>(
  source: string,
  call: Call,
  run: (sha1: string, keys: readonly string[], args: readonly string[]) => Promise<TResult>,
): Script<TResult> {
  const sha1 = createHash('sha1').update(source).digest('hex')
  // A script's first key is always of the same kind: its family is looked up once.
  let family: CommandFamily | undefined
  return {
    exec: (keys, args) => {
      family ??= keyFamily(keys[0])
      return call(() => run(sha1, keys, args), family)
    },
  }
}

/** By SHA (EVALSHA), then by source (EVAL) when the server does not have the script yet, like Upstash's. */
async function withSourceFallback<T>(bySha1: () => Promise<T>, bySource: () => Promise<T>): Promise<T> {
  try {
    return await bySha1()
  } catch (error) {
    if (!(error instanceof ErrorReply && error.message.startsWith('NOSCRIPT'))) throw error
    return await bySource()
  }
}

/**
 * The {@link Redis} of one app over a connected topology (standalone, sentinel or cluster: see
 * topology.ts), the same for all three. `commandTimeoutMs` (REDIS_COMMAND_TIMEOUT_MS) is the longest a
 * request waits for any one reply: node-redis's own command timeout stops counting once a command is
 * written, so a hung Redis (SIGSTOP, a stuck network, a failover in progress) is only bounded here.
 */
export function createRedisClient(topology: Topology, commandTimeoutMs: number): Redis {
  const replies = replyDeadline(commandTimeoutMs)
  const client = topology.commands
  const stats = new RedisStats(() => topology.isReady)
  // Built once the connection is up: every 'ready' after this is a reconnect.
  topology.onReady(() => {
    stats.reconnects.commands++
  })
  const timings = stats.commands
  // Each reply is timed by the deadline that bounds it anyway: no promise or closure of its own.
  const call: Call = <T>(command: () => Promise<T>, family: CommandFamily = 'other') =>
    replies.within(command, timings[family])
  return {
    stats,
    ping: () => call(() => topology.ping(), 'ping'),
    role: async () => {
      try {
        return await call(() => topology.role(), 'ping')
      } catch (error) {
        // A transient reply arrives as RedisUnavailableError; any other reply is a server that will not say.
        if (error instanceof ErrorReply) return undefined
        throw error
      }
    },
    getex: (key, { ex }) => call(() => client.getEx(key, { type: 'EX', value: ex }), keyFamily(key)),
    del: (...keys) => call(() => client.del(keys), keyFamily(keys[0])),
    pttl: (key) => call(() => client.pTTL(key), keyFamily(key)),
    pexpire: (key, ms) => call(() => client.pExpire(key, ms), keyFamily(key)),
    createScript: <TResult>(source: string): Script<TResult> =>
      scriptRuns(source, call, (sha1, keys, args) => {
        const options = { keys: [...keys], arguments: [...args] }
        return withSourceFallback(
          async () => (await client.evalSha(sha1, options)) as TResult,
          async () => (await client.eval(source, options)) as TResult,
        )
      }),
    createReplicatedScript: <TResult>(source: string, { replicas, timeoutMs }: ReplicaWait) =>
      scriptRuns(source, call, (sha1, keys, args) => {
        const [key = ''] = keys
        const wait = ['WAIT', String(replicas), String(timeoutMs)]
        const run = async (script: string[]): Promise<Replicated<TResult>> => {
          const [reply, confirmed] = await topology.waitConnection.pipeline(key, [
            [...script, String(keys.length), ...keys, ...args],
            wait,
          ])
          return { reply: reply as TResult, replicas: Number(confirmed) }
        }
        return withSourceFallback(
          () => run(['EVALSHA', sha1]),
          () => run(['EVAL', source]),
        )
      }),
    createStreamReader: () =>
      topology.notifications
        ? createNotifiedStreamReader(topology.notifications, commandTimeoutMs, stats)
        : createStreamReader(topology.blocking, commandTimeoutMs, stats),
  }
}
