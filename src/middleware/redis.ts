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
  // Not async: a pass-through middleware that returns next() saves a promise per request.
  createMiddleware<{ Variables: RedisVariables }>((c, next) => {
    c.set('redis', redis)
    return next()
  })
