import { OpenAPIHono } from '@hono/zod-openapi'
import type { Context, MiddlewareHandler } from 'hono'
import { type RequestIdVariables, requestId } from 'hono/request-id'
import { GrantTokens } from './access/grant-tokens.js'
import { Subscriptions } from './buffers/live/subscriptions.js'
import { BufferStore } from './buffers/store.js'
import type { Env } from './env.js'
import { addressNetwork, clientAddresses } from './http/client-address.js'
import { accessLog } from './http/middleware/access-log.js'
import { type AuthVariables, authorization } from './http/middleware/auth.js'
import { authFailureCounter } from './http/middleware/auth-failures.js'
import { limitBody } from './http/middleware/body-limit.js'
import { allowOrigins } from './http/middleware/cors.js'
import { rejectCrossSite } from './http/middleware/csrf.js'
import { handleError, handleNotFound } from './http/middleware/error-handler.js'
import { rateLimit } from './http/middleware/rate-limit.js'
import { requestMetrics } from './http/middleware/request-metrics.js'
import { observeRequests } from './http/middleware/request-observer.js'
import { securityHeaders } from './http/middleware/security-headers.js'
import { attachServices, type ServiceVariables } from './http/middleware/services.js'
import { rejectInvalid } from './http/middleware/validation.js'
import { describeApi } from './http/openapi/document.js'
import { appendFailures, bufferRoutes } from './http/routes/buffers.js'
import { devGrantRoutes } from './http/routes/dev-grants.js'
import { healthRoutes } from './http/routes/health.js'
import { metricsRoutes } from './http/routes/metrics.js'
import { pageRoutes, readPage } from './http/routes/page.js'
import { referenceRoutes } from './http/routes/reference.js'
import { sessionRoutes } from './http/routes/sessions.js'
import { userRoutes } from './http/routes/users.js'
import { RateLimiter } from './limits/rate-limiter.js'
import { StreamSlots } from './limits/stream-slots.js'
import { Lifecycle } from './process/lifecycle.js'
import { createLogger, type Logger } from './process/logger.js'
import { createMetrics } from './process/metrics.js'
import type { Redis } from './redis/client.js'
import { SessionService } from './sessions/service.js'

export type AppEnv = { Variables: ServiceVariables & AuthVariables & RequestIdVariables }

interface AppHandles {
  /** Driven by main.ts on shutdown: fails readiness, then ends long-lived responses. */
  readonly lifecycle: Lifecycle
  readonly logger: Logger
}

export interface AppOptions {
  /**
   * The request spans (`http/middleware/request-spans.ts`), mounted before everything else. main.ts
   * passes them only when tracing is on, so that without tracing neither @hono/otel nor the SDK is loaded.
   */
  requestSpans?: MiddlewareHandler
}

/**
 * Builds the HTTP app: the only way to get one. Everything the app holds is created here, per call,
 * so two apps built in one process (as the tests do) share nothing but the Redis they are given.
 * It does no network I/O (it only reads its Lua scripts and its page): main.ts connects Redis first
 * and serves the result.
 */
export function createApp(env: Env, redis: Redis, { requestSpans }: AppOptions = {}) {
  const logger = createLogger(env.logLevel)
  const lifecycle = new Lifecycle()
  const metrics = createMetrics()
  const buffers = new BufferStore(redis, env.bufferMaxLen, { scripts: redis, wait: env.redisAppendWait })
  const limits = new RateLimiter(redis, {
    limits: {
      sessions: env.rateLimitSessionsPerMinute,
      authFailures: env.rateLimitAuthFailuresPerMinute,
      appends: env.rateLimitAppendsPerMinute,
    },
  })
  const subscriptions = new Subscriptions({
    redis,
    slots: new StreamSlots(redis, {
      maxPerSession: env.sseMaxStreamsPerSession,
      onError: (error) => logger.warn({ err: error }, 'sse: stream slot renewal or release failed'),
    }),
    store: buffers,
    logger,
    retryMs: env.sseRetryMs,
    heartbeatMs: env.sseHeartbeatMs,
    queueMaxEvents: env.sseQueueMaxEvents,
    queueMaxBytes: env.sseQueueMaxBytes,
    counters: metrics.sse,
  })
  lifecycle.onClose(() => subscriptions.close())
  const grantTokens = new GrantTokens(env)
  const sessions = new SessionService({
    redis,
    grantTokens,
    anonymous: env.sessionsAnonymous,
    secrets: env.sessionSecrets,
    ttlSeconds: env.sessionTtlSeconds,
    // Plain http://localhost must work in development; production cookies are HTTPS-only.
    secure: env.nodeEnv === 'production',
    counters: metrics.sessions,
  })
  metrics.watch({
    openStreams: () => subscriptions.openStreams,
    // /readyz's checks, judged from state: a scrape costs no round trip (a PING's failure shows as the connection's state).
    ready: () => !lifecycle.shuttingDown && redis.stats.commandsUp() && subscriptions.health() === undefined,
    liveReaderUp: () => subscriptions.liveReaderUp(),
    redis: redis.stats,
  })

  // Rate limits count clients by address, IPv6 ones by /64 network.
  const clientOf = clientAddresses(env.trustProxy)
  const addressOf = (c: Context) => addressNetwork(clientOf(c))
  const app = new OpenAPIHono<AppEnv>({ defaultHook: rejectInvalid })
  app.onError(
    handleError(logger, {
      countAuthFailure: authFailureCounter(limits, addressOf),
      onAuthFailure: (reason) => metrics.authFailure(reason),
      eventStreamRetryMs: env.sseRetryMs,
    }),
  )
  app.notFound(handleNotFound)
  // Probes arrive every few seconds from every balancer and orchestrator: counted in the metrics, neither
  // logged nor traced.
  const probes = ['/healthz', '/readyz']
  // First: the span covers the whole pipeline, and every Redis command of the request is its child.
  if (requestSpans) app.use((c, next) => (probes.includes(c.req.path) ? next() : requestSpans(c, next)))
  app.use(
    requestId(),
    observeRequests(
      accessLog({ logger, skipPaths: probes }),
      requestMetrics({ metrics }),
      appendFailures(metrics.buffers),
    ),
  )
  app.use(securityHeaders())
  // Before anything that reads Redis: preflights are answered here, cross-site session changes refused.
  // Without ALLOWED_ORIGINS there is no CORS at all: no layer either.
  if (env.allowedOrigins.length > 0) app.use(allowOrigins({ origins: env.allowedOrigins }))
  app.on(
    ['POST', 'PUT', 'PATCH', 'DELETE'],
    ['/sessions', '/sessions/*'],
    rejectCrossSite({ allowedOrigins: env.allowedOrigins }),
  )
  app.on(['POST', 'PUT', 'PATCH', 'DELETE'], '*', limitBody(env.bodyLimitBytes))
  app.use(attachServices({ redis, buffers, subscriptions, sessions, limits }))
  // Before the routes, so a refused creation never reaches the session store.
  app.post('/sessions', rateLimit('sessions', addressOf))

  const auth = authorization({ adminTokens: env.apiTokens, metricsTokens: env.metricsTokens, grantTokens })
  // One chain, so that its type (AppType) holds every route's inputs and outputs for typed clients.
  const routes = app
    .route(
      '/',
      healthRoutes({
        lifecycle,
        readyTimeoutMs: env.readyTimeoutMs,
        checks: { 'sse:liveReader': () => subscriptions.health() },
      }),
    )
    .route('/', metricsRoutes({ metrics, auth }))
    .route('/', sessionRoutes())
    .route('/', userRoutes({ auth }))
    .route(
      '/',
      bufferRoutes({ auth, counters: metrics.buffers, maxBuffersPerStream: env.sseMaxBuffersPerStream }),
    )
    .route('/', pageRoutes({ html: readPage() }))
    .route('/', referenceRoutes({ document: () => describeApi(app) }))
  // Development only, and not part of the contract.
  const [devGrantSecret] = env.grantSecrets
  if (env.devGrants && devGrantSecret) app.route('/', devGrantRoutes({ secret: devGrantSecret }))

  return Object.assign(routes, { lifecycle, logger } satisfies AppHandles)
}

export type ServiceApp = ReturnType<typeof createApp>

/**
 * The app's routes with their inputs and outputs, for Hono's typed client: `hc<AppType>(baseUrl)`
 * (README, "Calling the API"; examples/typed-client.ts).
 */
export type AppType = ServiceApp
