import { setTimeout as sleep } from 'node:timers/promises'
import { createClient } from 'redis'
import { describeRedisUrl, type Env } from '../env.js'
import { backoffDelay } from '../lib/backoff.js'
import { Deadline } from '../lib/deadline.js'
import { createRedisClient, type Redis } from './client.js'
import { isTransientReply } from './failures.js'

/**
 * The node-redis connection's lifecycle: options, startup within a budget, reconnect with capped
 * backoff. main.ts and the tests connect through {@link connectRedis}; the app only ever sees the
 * {@link Redis} built on top.
 */

export type NodeRedisClient = ReturnType<typeof createNodeRedisClient>

export type RedisSettings = Pick<Env, 'redisUrl' | 'redisCommandTimeoutMs' | 'redisConnectTimeoutMs'>

export interface RedisConnection {
  /** What createApp takes. */
  redis: Redis
  /** The node-redis client underneath, for its events ('error', 'ready') and for tests' assertions. */
  client: NodeRedisClient
  /** Waits for pending replies when connected, drops the connection at once otherwise. */
  close(): Promise<void>
}

/** Why the service could not reach Redis at startup; main.ts turns it into exit code 69. */
export class RedisStartupError extends Error {
  constructor(
    readonly target: string,
    readonly budgetMs: number,
    readonly lastReason: string,
  ) {
    super(`Could not connect to Redis at ${target} within ${budgetMs} ms. Last reason: ${lastReason}`)
    this.name = 'RedisStartupError'
  }
}

function createNodeRedisClient({ redisUrl, redisCommandTimeoutMs }: RedisSettings) {
  const client = createClient({
    url: redisUrl,
    // Without this, commands issued while reconnecting wait in a queue: requests would hang, not 503.
    disableOfflineQueue: true,
    // node-redis's per-command timeout (5 s by default) stops counting once a command is written, so it
    // cannot bound a hung Redis, and it costs an AbortSignal per command: off. The client bounds every
    // reply instead (see createRedisClient).
    commandOptions: { timeout: 0 },
    socket: {
      connectTimeout: Math.max(redisCommandTimeoutMs, 1000),
      reconnectStrategy: backoffDelay,
    },
  })
  // node-redis kills the process on an unhandled 'error' event; the process logs them (main.ts).
  client.on('error', () => {})
  return client
}

/** How often startup asks again while Redis answers "not now" (e.g. LOADING its dataset). */
const STARTUP_PING_RETRY_MS = 100

/**
 * Connects to Redis, retrying (a Redis that starts a moment later, or is still loading its data, is
 * fine), until the whole handshake (TCP, TLS, HELLO/AUTH and a PING) has succeeded or
 * REDIS_CONNECT_TIMEOUT_MS is spent. Then throws {@link RedisStartupError} with the last reason, after
 * destroying the client, so no reconnect loop outlives the attempt. Once connected, node-redis
 * reconnects on its own, forever.
 *
 * @example
 * ```ts
 * const { redis, close } = await connectRedis(env)
 * const app = createApp(env, redis)
 * ```
 */
export async function connectRedis(settings: RedisSettings): Promise<RedisConnection> {
  const budgetMs = settings.redisConnectTimeoutMs
  const client = createNodeRedisClient(settings)
  let lastReason = 'no answer from Redis (the connection opened but the handshake never completed)'
  let socketOpened = false
  const recordError = (error: Error) => {
    lastReason = error.message || error.name
  }
  const recordConnect = () => {
    socketOpened = true
  }
  client.on('error', recordError)
  client.on('connect', recordConnect)

  const giveUpAt = performance.now() + budgetMs
  const handshake = async () => {
    await client.connect()
    for (;;) {
      try {
        await client.ping()
        return
      } catch (error) {
        if (error instanceof Error) recordError(error)
        if (!isTransientReply(error) || performance.now() >= giveUpAt) throw error
        await sleep(STARTUP_PING_RETRY_MS)
      }
    }
  }

  try {
    await new Deadline(budgetMs).within(handshake)
  } catch {
    if (!socketOpened && lastReason.startsWith('no answer')) lastReason = 'connection attempt timed out'
    client.destroy()
    throw new RedisStartupError(describeRedisUrl(settings.redisUrl), budgetMs, lastReason)
  } finally {
    client.off('error', recordError)
    client.off('connect', recordConnect)
  }
  return {
    redis: createRedisClient(client, settings.redisCommandTimeoutMs),
    client,
    close: () => (client.isReady ? client.close() : Promise.resolve(client.destroy())),
  }
}
