import { afterAll, onTestFinished, TestRunner } from 'vitest'
import { createApp, type ServiceApp } from '../../src/app.js'
import type { Env } from '../../src/env.js'
import type { Redis } from '../../src/redis/client.js'
import { connectRedis, type NodeRedisClient, type RedisConnection } from '../../src/redis/connection.js'
import { testEnv } from './env.js'

export interface TestApp {
  app: ServiceApp
  redis: Redis
  /** The raw node-redis client underneath, for assertions such as TTL or CLIENT LIST. */
  client: NodeRedisClient
}

const envs = new WeakMap<ServiceApp, Env>()

/** The node-redis client of a standalone connection (the tests' default topology), for raw commands. */
export function standaloneClient({ topology }: RedisConnection): NodeRedisClient {
  if (topology.mode !== 'standalone') throw new Error(`a ${topology.mode} connection has no single client`)
  return topology.client
}

/** The configuration `app` was built with by {@link buildTestApp}. */
export const envOf = (app: ServiceApp): Env | undefined => envs.get(app)

/** An app built by {@link buildAppOn}, on whatever topology its environment names. */
export interface TopologyTestApp {
  app: ServiceApp
  redis: Redis
  /** The connection underneath: its topology's node-redis client, sentinel or cluster, for assertions. */
  connection: RedisConnection
}

/**
 * Builds the app as main.ts does (connectRedis, then createApp, with the request spans when the
 * environment turns tracing on) on the Redis of `redisUrl` and `overrides` (raw environment variables,
 * validated by loadEnv: REDIS_MODE=cluster with a cluster's seed, for instance), and closes it after the
 * file's tests, or after the test that built it.
 */
export async function buildAppOn(
  redisUrl: string,
  overrides: Record<string, string> = {},
): Promise<TopologyTestApp> {
  const env = testEnv(redisUrl, overrides)
  // As main.ts does; spans go wherever the test's own startTracing sends them.
  const requestSpans = env.tracing
    ? (await import('../../src/http/middleware/request-spans.js')).requestSpans()
    : undefined
  const connection = await connectRedis(env)
  const app = createApp(env, connection.redis, { requestSpans })
  envs.set(app, env)
  const close = async () => {
    await app.lifecycle.close()
    connection.topology.destroy()
  }
  // Built inside a test: closed when that test ends (an afterAll registered there would never run).
  if (TestRunner.getCurrentTest()) onTestFinished(close)
  else afterAll(close)
  return { app, redis: connection.redis, connection }
}

/** {@link buildAppOn} for a standalone Redis, with its node-redis client at hand. */
export async function buildTestApp(
  redisUrl: string,
  overrides: Record<string, string> = {},
): Promise<TestApp> {
  const { app, redis, connection } = await buildAppOn(redisUrl, overrides)
  return { app, redis, client: standaloneClient(connection) }
}
