import { Hono } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import { type RequestIdVariables, requestId } from 'hono/request-id'
import type { Env } from './env.js'
import { AppError } from './errors.js'
import { Lifecycle } from './lifecycle.js'
import { createLogger, type Logger } from './logger.js'
import { createMetrics } from './metrics.js'
import { accessLog } from './middleware/access-log.js'
import { handleError, handleNotFound } from './middleware/error-handler.js'
import { type RedisVariables, redisClient } from './middleware/redis.js'
import { requestMetrics } from './middleware/request-metrics.js'
import { observeRequests } from './middleware/request-observer.js'
import { type SessionVariables, sessions } from './middleware/session.js'
import type { Redis } from './redis/facade.js'
import { readLuaScript } from './redis/scripts.js'
import { bufferRoutes } from './routes/buffers.js'
import { healthRoutes } from './routes/health.js'
import { metricsRoutes } from './routes/metrics.js'
import { pageRoutes, readPage } from './routes/page.js'
import { sessionRoutes } from './routes/sessions.js'
import { LiveHub } from './sse/hub.js'

export type AppEnv = { Variables: RedisVariables & RequestIdVariables & SessionVariables }

export type ServiceApp = Hono<AppEnv> & {
  /** Driven by main.ts on shutdown: fails readiness, then ends long-lived responses. */
  readonly lifecycle: Lifecycle
  readonly logger: Logger
}

/**
 * Builds the HTTP app: the only way to get one. Everything the app holds is created here, per call,
 * so two apps built in one process (as the tests do) share nothing but the Redis they are given.
 * It does no network I/O (it only reads its Lua scripts): main.ts connects Redis first and serves the result.
 */
export function createApp(env: Env, redis: Redis): ServiceApp {
  const logger = createLogger(env.logLevel)
  const lifecycle = new Lifecycle()
  const metrics = createMetrics()
  const app = new Hono<AppEnv>()

  app.onError(handleError(logger))
  app.notFound(handleNotFound)

  app.use(
    requestId(),
    observeRequests(
      // Probes arrive every few seconds from every balancer and orchestrator: counted in the metrics, not logged.
      accessLog({ logger, skipPaths: ['/healthz', '/readyz'] }),
      requestMetrics({ metrics }),
    ),
  )
  // Only for methods that carry a body: on @hono/node-server, looking at a GET's body materialises a
  // full Request object, a cost every hot read would pay for nothing.
  app.on(
    ['POST', 'PUT', 'PATCH', 'DELETE'],
    '*',
    bodyLimit({
      maxSize: env.bodyLimitBytes,
      onError: () => {
        throw new AppError(413, 'payload_too_large', `Request body exceeds ${env.bodyLimitBytes} bytes`)
      },
    }),
  )
  app.use(
    redisClient(redis),
    sessions({
      secrets: env.sessionSecrets,
      ttlSeconds: env.sessionTtlSeconds,
      // Plain http://localhost must work in development; production cookies are HTTPS-only.
      secure: env.nodeEnv === 'production',
      scripts: {
        patch: readLuaScript('session-patch'),
        rotate: readLuaScript('session-rotate'),
      },
    }),
  )

  // Live delivery: one blocking Redis reader per app, whatever the number of SSE subscribers.
  const hub = new LiveHub({ reader: redis.createStreamReader(), logger })
  lifecycle.onClose(() => hub.close())

  app.route(
    '/',
    healthRoutes({
      lifecycle,
      readyTimeoutMs: env.readyTimeoutMs,
      checks: { 'sse:liveReader': () => hub.health() },
    }),
  )
  app.route('/', metricsRoutes({ metrics, apiTokens: env.apiTokens }))
  app.route('/', sessionRoutes())
  app.route(
    '/',
    bufferRoutes({
      hub,
      logger,
      apiTokens: env.apiTokens,
      maxLen: env.bufferMaxLen,
      scripts: {
        append: readLuaScript('buffer-append'),
        read: readLuaScript('buffer-read'),
        info: readLuaScript('buffer-info'),
        delete: readLuaScript('buffer-delete'),
      },
      sse: {
        retryMs: env.sseRetryMs,
        heartbeatMs: env.sseHeartbeatMs,
        queueMaxEvents: env.sseQueueMaxEvents,
        queueMaxBytes: env.sseQueueMaxBytes,
      },
    }),
  )
  app.route('/', pageRoutes({ html: readPage() }))

  return Object.assign(app, { lifecycle, logger })
}
