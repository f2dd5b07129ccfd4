import { createMiddleware } from 'hono/factory'
import type { Redis } from '../redis/facade.js'

export interface RedisVariables {
  redis: Redis
}

/**
 * Attaches the app's Redis client to every request as `c.var.redis`, so handlers never reach for a
 * module-level client and tests can build as many independent apps as they like.
 *
 * @example
 * ```ts
 * app.use(redisClient(redis))
 * app.get('/ping', async (c) => c.json({ pong: await c.var.redis.ping() }))
 * ```
 */
export const redisClient = (redis: Redis) =>
  createMiddleware<{ Variables: RedisVariables }>(async (c, next) => {
    c.set('redis', redis)
    await next()
  })
