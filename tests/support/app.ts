import { afterAll, onTestFinished, TestRunner } from 'vitest'
import { createApp, type ServiceApp } from '../../src/app.js'
import type { Env } from '../../src/env.js'
import type { Redis } from '../../src/redis/client.js'
import { connectRedis, type NodeRedisClient } from '../../src/redis/connection.js'
import { testEnv } from './env.js'

export interface TestApp {
  app: ServiceApp
  redis: Redis
  /** The raw node-redis client underneath, for assertions such as TTL or CLIENT LIST. */
  client: NodeRedisClient
}

const envs = new WeakMap<ServiceApp, Env>()

/** The configuration `app` was built with by {@link buildTestApp}. */
export const envOf = (app: ServiceApp): Env | undefined => envs.get(app)

/**
 * Builds the app as main.ts does (connectRedis, then createApp, with the request spans when the
 * environment turns tracing on) against `redisUrl`, and closes it after the file's tests, or after the
 * test that built it. `overrides` are raw environment variables, validated by loadEnv.
 */
export async function buildTestApp(
  redisUrl: string,
  overrides: Record<string, string> = {},
): Promise<TestApp> {
  const env = testEnv(redisUrl, overrides)
  // As main.ts does; spans go wherever the test's own startTracing sends them.
  const requestSpans = env.tracing
    ? (await import('../../src/http/middleware/request-spans.js')).requestSpans()
    : undefined
  const { redis, client } = await connectRedis(env)
  const app = createApp(env, redis, { requestSpans })
  envs.set(app, env)
  const close = async () => {
    await app.lifecycle.close()
    client.destroy()
  }
  // Built inside a test: closed when that test ends (an afterAll registered there would never run).
  if (TestRunner.getCurrentTest()) onTestFinished(close)
  else afterAll(close)
  return { app, redis, client }
}
