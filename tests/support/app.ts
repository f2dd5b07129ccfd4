import { afterAll, onTestFinished } from 'vitest'
import { getCurrentTest } from 'vitest/suite'
import { createApp, type ServiceApp } from '../../src/app.js'
import {
  connectWithinBudget,
  createNodeRedisClient,
  type NodeRedisClient,
} from '../../src/redis/connection.js'
import { createRedisFacade, type Redis } from '../../src/redis/facade.js'
import { testEnv } from './env.js'

export interface TestApp {
  app: ServiceApp
  redis: Redis
  /** The raw node-redis client behind the facade, for assertions such as TTL or CLIENT LIST. */
  client: NodeRedisClient
}

/**
 * Builds the app exactly as main.ts does (real connection, real facade) against `redisUrl`, and closes
 * it after the file's tests, or after the test that built it. `overrides` are raw environment variables, validated by loadEnv.
 */
export async function buildTestApp(
  redisUrl: string,
  overrides: Record<string, string> = {},
): Promise<TestApp> {
  const env = testEnv(redisUrl, overrides)
  const client = createNodeRedisClient({
    url: env.redisUrl,
    commandTimeoutMs: env.redisCommandTimeoutMs,
    onError: () => {},
  })
  await connectWithinBudget(client, env.redisUrl, env.redisConnectTimeoutMs)
  const redis = createRedisFacade(client, { commandTimeoutMs: env.redisCommandTimeoutMs })
  const app = createApp(env, redis)
  const close = async () => {
    await app.lifecycle.close()
    client.destroy()
  }
  // Built inside a test: closed when that test ends (an afterAll registered there would never run).
  if (getCurrentTest()) onTestFinished(close)
  else afterAll(close)
  return { app, redis, client }
}
