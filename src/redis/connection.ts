import { setTimeout as sleep } from 'node:timers/promises'
import { createClient } from 'redis'
import { backoffDelay } from '../backoff.js'
import { describeRedisUrl } from '../env.js'
import { isTransientReply } from './replies.js'

/**
 * The node-redis connection lifecycle: options, startup within a budget, reconnect with capped backoff.
 * main.ts owns the connection; the app only ever sees the facade built on top of it.
 */

export type NodeRedisClient = ReturnType<typeof createNodeRedisClient>

export interface ConnectionOptions {
  url: string
  /** Bounds each connection attempt (at least 1 s); replies are bounded by the facade (see facade.ts). */
  commandTimeoutMs: number
  /** Called for every connection error; node-redis kills the process on an unhandled 'error' event. */
  onError: (error: Error) => void
}

export function createNodeRedisClient({ url, commandTimeoutMs, onError }: ConnectionOptions) {
  const client = createClient({
    url,
    // Without this, commands issued while reconnecting wait in a queue: requests would hang, not 503.
    disableOfflineQueue: true,
    // node-redis's per-command timeout (5 s by default) is off: it stops counting once a command is
    // written, so it cannot bound a hung Redis, and it costs an AbortSignal per command. The facade
    // bounds every reply instead.
    commandOptions: { timeout: 0 },
    socket: {
      connectTimeout: Math.max(commandTimeoutMs, 1000),
      reconnectStrategy: backoffDelay,
    },
  })
  client.on('error', onError)
  return client
}

/** Why the service could not reach Redis at startup; main.ts turns it into exit code 69. */
export class RedisStartupError extends Error {
  readonly code = 'redis_unreachable'
  constructor(
    readonly target: string,
    readonly budgetMs: number,
    readonly lastReason: string,
  ) {
    super(`Could not connect to Redis at ${target} within ${budgetMs} ms. Last reason: ${lastReason}`)
    this.name = 'RedisStartupError'
  }
}

/** How often startup asks again while Redis answers "not now" (e.g. LOADING its dataset). */
const STARTUP_PING_RETRY_MS = 100

/**
 * Connects, retrying (a Redis that starts a moment later, or is still loading its data, is fine),
 * until the whole handshake (TCP, TLS, HELLO/AUTH and a PING) has succeeded or `budgetMs` is spent. On
 * failure the client is destroyed, so no reconnect loop outlives the attempt, and the last reason is
 * reported.
 */
export async function connectWithinBudget(
  client: NodeRedisClient,
  url: string,
  budgetMs: number,
): Promise<void> {
  let lastReason = 'no answer from Redis (the connection opened but the handshake never completed)'
  let socketOpened = false
  let expired = false
  const recordError = (error: Error) => {
    lastReason = error.message || error.name
  }
  const recordConnect = () => {
    socketOpened = true
  }
  client.on('error', recordError)
  client.on('connect', recordConnect)

  const handshake = async () => {
    await client.connect()
    for (;;) {
      try {
        await client.ping()
        return
      } catch (error) {
        if (error instanceof Error) recordError(error)
        if (!isTransientReply(error) || expired) throw error
        await sleep(STARTUP_PING_RETRY_MS)
      }
    }
  }

  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      expired = true
      reject(new Error('budget spent'))
    }, budgetMs)
  })
  try {
    await Promise.race([handshake(), deadline])
  } catch {
    if (!socketOpened && lastReason.startsWith('no answer')) lastReason = 'connection attempt timed out'
    client.destroy()
    throw new RedisStartupError(describeRedisUrl(url), budgetMs, lastReason)
  } finally {
    clearTimeout(timer)
    client.off('error', recordError)
    client.off('connect', recordConnect)
  }
}
