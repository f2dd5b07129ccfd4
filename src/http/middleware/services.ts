import { createMiddleware } from 'hono/factory'
import type { Subscriptions } from '../../buffers/live/subscriptions.js'
import type { BufferStore } from '../../buffers/store.js'
import type { RateLimiter } from '../../limits/rate-limiter.js'
import type { Redis } from '../../redis/client.js'
import type { RequestSession, SessionService } from '../../sessions/service.js'

/** What one app builds once and every request may use. */
export interface AppServices {
  redis: Redis
  buffers: BufferStore
  subscriptions: Subscriptions
  sessions: SessionService
  limits: RateLimiter
}

/** What handlers read with `c.get(...)`. */
export interface ServiceVariables {
  redis: Redis
  buffers: BufferStore
  subscriptions: Subscriptions
  /** The app's sessions, for the admin API. */
  sessions: SessionService
  /** This request's session: lazy, it touches nothing until a handler asks. */
  session: RequestSession
  /** The app's rate limits (see middleware/rate-limit.ts). */
  limits: RateLimiter
}

/**
 * Attaches the app's services to every request, so handlers never reach for module-level state and
 * tests can build as many independent apps as they like.
 *
 * @example
 * ```ts
 * app.use(attachServices({ redis, buffers, subscriptions, sessions }))
 * app.get('/ping', async (c) => c.json({ pong: await c.get('redis').ping() }))
 * ```
 */
export const attachServices = ({ redis, buffers, subscriptions, sessions, limits }: AppServices) =>
  createMiddleware<{ Variables: ServiceVariables }>(async (c, next) => {
    c.set('redis', redis)
    c.set('buffers', buffers)
    c.set('subscriptions', subscriptions)
    c.set('limits', limits)
    c.set('sessions', sessions)
    c.set(
      'session',
      sessions.forRequest({
        cookieHeader: () => c.req.header('Cookie'),
        // Its `Cache-Control: no-store` comes with it: see security-headers.ts.
        setCookie: (value) => c.header('Set-Cookie', value, { append: true }),
      }),
    )
    await next()
  })
