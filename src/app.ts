import { Hono } from 'hono'
import { type RequestIdVariables, requestId } from 'hono/request-id'
import { Subscriptions } from './buffers/live/subscriptions.js'
import { BufferStore } from './buffers/store.js'
import type { Env } from './env.js'
import { accessLog } from './http/middleware/access-log.js'
import { limitBody } from './http/middleware/body-limit.js'
import { handleError, handleNotFound } from './http/middleware/error-handler.js'
import { requestMetrics } from './http/middleware/request-metrics.js'
import { observeRequests } from './http/middleware/request-observer.js'
import { attachServices, type ServiceVariables } from './http/middleware/services.js'
import { bufferRoutes } from './http/routes/buffers.js'
import { healthRoutes } from './http/routes/health.js'
import { metricsRoutes } from './http/routes/metrics.js'
import { pageRoutes, readPage } from './http/routes/page.js'
import { sessionRoutes } from './http/routes/sessions.js'
import { Lifecycle } from './process/lifecycle.js'
import { createLogger, type Logger } from './process/logger.js'
import { createMetrics } from './process/metrics.js'
import type { Redis } from './redis/client.js'
import { SessionService } from './sessions/service.js'

export type AppEnv = { Variables: ServiceVariables & RequestIdVariables }

export type ServiceApp = Hono<AppEnv> & {
  /** Driven by main.ts on shutdown: fails readiness, then ends long-lived responses. */
  readonly lifecycle: Lifecycle
  readonly logger: Logger
}

/**
 * Builds the HTTP app: the only way to get one. Everything the app holds is created here, per call,
 * so two apps built in one process (as the tests do) share nothing but the Redis they are given.
 * It does no network I/O (it only reads its Lua scripts and its page): main.ts connects Redis first
 * and serves the result.
 */
export function createApp(env: Env, redis: Redis): ServiceApp {
  const logger = createLogger(env.logLevel)
  const lifecycle = new Lifecycle()
  const metrics = createMetrics()
  const buffers = new BufferStore(redis, env.bufferMaxLen)
  const subscriptions = new Subscriptions({
    redis,
    store: buffers,
    logger,
    retryMs: env.sseRetryMs,
    heartbeatMs: env.sseHeartbeatMs,
    queueMaxEvents: env.sseQueueMaxEvents,
    queueMaxBytes: env.sseQueueMaxBytes,
  })
  lifecycle.onClose(() => subscriptions.close())
  const sessions = new SessionService({
    redis,
    secrets: env.sessionSecrets,
    ttlSeconds: env.sessionTtlSeconds,
    // Plain http://localhost must work in development; production cookies are HTTPS-only.
    secure: env.nodeEnv === 'production',
  })

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
  app.on(['POST', 'PUT', 'PATCH', 'DELETE'], '*', limitBody(env.bodyLimitBytes))
  app.use(attachServices({ redis, buffers, subscriptions, sessions }))

  app.route(
    '/',
    healthRoutes({
      lifecycle,
      readyTimeoutMs: env.readyTimeoutMs,
      checks: { 'sse:liveReader': () => subscriptions.health() },
    }),
  )
  app.route('/', metricsRoutes({ metrics, apiTokens: env.apiTokens }))
  app.route('/', sessionRoutes())
  app.route('/', bufferRoutes({ apiTokens: env.apiTokens }))
  app.route('/', pageRoutes({ html: readPage() }))

  return Object.assign(app, { lifecycle, logger })
}
