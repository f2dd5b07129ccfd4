import type { RedisMode } from '../env.js'
import { createRedisClient, type Redis } from './client.js'
import { type ClusterTopology, connectCluster } from './cluster.js'
import type { RedisSettings } from './node-options.js'
import { connectSentinel, type SentinelTopology } from './sentinel.js'
import { connectStandalone, type StandaloneTopology } from './standalone.js'

export type { RedisSettings } from './node-options.js'
export type { NodeRedisClient } from './standalone.js'
export { RedisStartupError } from './startup-budget.js'

/**
 * The Redis connection's lifecycle, whatever the topology (REDIS_MODE): options, startup within a
 * budget with the same fail-fast in every mode, reconnect with capped backoff. main.ts and the tests
 * connect through {@link connectRedis}; the app only ever sees the {@link Redis} built on top.
 */

/** The connected topology, by mode, with node-redis's client, sentinel or cluster underneath. */
export type ConnectedTopology = StandaloneTopology | SentinelTopology | ClusterTopology

export interface RedisConnection {
  /** What createApp takes. */
  redis: Redis
  /** The topology underneath, for its events (errors, reconnects) and for tests' assertions. */
  topology: ConnectedTopology
  /** Waits for pending replies when connected, drops the connections at once otherwise. */
  close(): Promise<void>
}

const CONNECT: Record<RedisMode, (settings: RedisSettings) => Promise<ConnectedTopology>> = {
  standalone: connectStandalone,
  sentinel: connectSentinel,
  cluster: connectCluster,
}

/**
 * Connects to the topology REDIS_MODE names, retrying, until it can serve or REDIS_CONNECT_TIMEOUT_MS is
 * spent; then throws RedisStartupError with what was reached and the last reason (main.ts: exit 69),
 * after dropping every connection, so no reconnect loop outlives the attempt. Once connected,
 * node-redis reconnects on its own, forever.
 *
 * @example
 * ```ts
 * const { redis, close } = await connectRedis(env)
 * const app = createApp(env, redis)
 * ```
 */
export async function connectRedis(settings: RedisSettings): Promise<RedisConnection> {
  const topology = await CONNECT[settings.redisMode](settings)
  return {
    redis: createRedisClient(topology, settings.redisCommandTimeoutMs),
    topology,
    close: () => topology.close(),
  }
}
