import type { Server } from 'node:http'
import { ConfigError, describeRedisUrl, type Env, loadEnv } from './env.js'
import { EXIT_CODES } from './process/exit-codes.js'
import type { Logger } from './process/logger.js'
import type { RedisConnection } from './redis/connection.js'

/**
 * The process: the only file that reads process.env, handles signals or exits (see EXIT_CODES).
 * The configuration is checked before the rest of the service is even loaded, so a misconfigured
 * process says so and exits at once.
 */

function fail(code: number, lines: readonly string[]): never {
  process.stderr.write(`hono-redis-service: ${lines.join('\n')}\n`)
  process.exit(code)
}

function loadConfigOrExit(): Env {
  try {
    return loadEnv(process.env)
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error
    fail(EXIT_CODES.config, [
      `invalid configuration (exit ${EXIT_CODES.config}); fix these environment variables:`,
      ...error.problems.map((problem) => `  - ${problem}`),
      'See .env.example for every variable, its default and how to generate secrets.',
    ])
  }
}

/** What to check when the topology of REDIS_MODE cannot be reached. */
const UNREACHABLE_HINTS: Record<Env['redisMode'], string> = {
  standalone:
    'Check that Redis is running and that REDIS_URL (host, port, password, redis:// vs rediss://) is right.',
  sentinel:
    'Check REDIS_SENTINELS, REDIS_SENTINEL_NAME (as in `sentinel monitor <name>`), the sentinel and data credentials, and redis:// vs rediss://.',
  cluster:
    'Check that REDIS_URL names a node of the cluster and that CLUSTER INFO says cluster_state:ok (every slot served).',
}

async function connectOrExit(env: Env): Promise<RedisConnection> {
  const { connectRedis, RedisStartupError } = await import('./redis/connection.js')
  try {
    return await connectRedis(env)
  } catch (error) {
    if (!(error instanceof RedisStartupError)) throw error
    fail(EXIT_CODES.unavailable, [
      error.refused
        ? `Redis at ${error.target} refused the connection (exit ${EXIT_CODES.unavailable})`
        : `cannot reach Redis at ${error.target} within ${error.budgetMs} ms (exit ${EXIT_CODES.unavailable})`,
      `  last reason: ${error.lastReason}`,
      `  ${UNREACHABLE_HINTS[env.redisMode]}`,
      '  Locally: `npm run local` starts a throw-away Redis with the service, or `docker compose up -d redis`.',
      '  A slow-starting Redis: raise REDIS_CONNECT_TIMEOUT_MS.',
    ])
  }
}

/**
 * Tracing, when configured, starts before app.js is even loaded: app.js loads `redis`, which the Redis
 * instrumentation can patch only as it is loaded. Without it, neither the SDK nor @hono/otel is loaded.
 */
async function startTracingIfConfigured(env: Env) {
  if (!env.tracing) return undefined
  const [{ startTracing }, { requestSpans }] = await Promise.all([
    import('./process/tracing.js'),
    import('./http/middleware/request-spans.js'),
  ])
  return { tracing: startTracing(), requestSpans: requestSpans() }
}

/** What the last spans' export leaves of the shutdown budget, for logging and exiting. */
const EXIT_MARGIN_MS = 100

/** An outage is logged once per distinct error, not once per reconnect attempt, and once when it ends. */
function logConnectionState({ topology }: RedisConnection, logger: Logger): void {
  let lastLoggedError = ''
  topology.onError((error) => {
    if (error.message === lastLoggedError) return
    lastLoggedError = error.message
    logger.warn({ err: error.message }, 'redis connection error; reconnecting')
  })
  topology.onReady(() => {
    if (lastLoggedError) logger.info('redis connection restored')
    lastLoggedError = ''
  })
}

async function main() {
  const env = loadConfigOrExit()
  const traced = await startTracingIfConfigured(env)
  // Redis's startup budget runs while the rest of the service loads, not after it: on a busy machine
  // loading takes a while, and exit 69 should come when the budget is spent, not that much later.
  const connecting = connectOrExit(env)
  const [{ serve }, { createApp }, { drainAndClose, trackConnections }, { nodeServerOptions }] =
    await Promise.all([
      import('@hono/node-server'),
      import('./app.js'),
      import('./process/shutdown.js'),
      import('./http/server.js'),
    ])
  const connection = await connecting
  const app = createApp(env, connection.redis, { requestSpans: traced?.requestSpans })
  const { logger } = app
  traced?.tracing.reportTo(logger)
  logConnectionState(connection, logger)

  const server = serve(
    {
      fetch: app.fetch,
      port: env.port,
      hostname: env.host,
      // Timeouts for slow clients, security headers, what an early refusal does with an unread body.
      ...nodeServerOptions(env),
    },
    (info) => {
      logger.info(
        {
          url: `http://${info.address}:${info.port}`,
          redis: describeRedisUrl(env.redisUrl),
          redisMode: env.redisMode,
        },
        'listening',
      )
    },
  ) as Server
  // From the start: at shutdown, connections with no request in flight are closed (shutdown.ts).
  const connections = trackConnections(server)
  server.on('error', (error) => {
    logger.fatal({ err: error }, 'http server error')
    process.exit(EXIT_CODES.failure)
  })

  let stopping = false
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting now')
      process.exit(EXIT_CODES.failure)
    }
    stopping = true
    const budgetEndsAt = performance.now() + env.shutdownTimeoutMs
    logger.info({ signal, timeoutMs: env.shutdownTimeoutMs }, 'shutdown requested')
    setTimeout(() => {
      logger.error({ timeoutMs: env.shutdownTimeoutMs }, 'shutdown timed out: exiting')
      process.exit(EXIT_CODES.failure)
    }, env.shutdownTimeoutMs)
    drainAndClose({
      server,
      connections,
      lifecycle: app.lifecycle,
      delayMs: env.shutdownDelayMs,
      closeRedis: connection.close,
      flushTraces:
        traced && (() => traced.tracing.shutdown(budgetEndsAt - performance.now() - EXIT_MARGIN_MS)),
      logger,
    }).then(
      () => process.exit(EXIT_CODES.ok),
      (error) => {
        logger.error({ err: error }, 'shutdown failed')
        process.exit(EXIT_CODES.failure)
      },
    )
  }
  process.on('SIGTERM', onSignal)
  process.on('SIGINT', onSignal)
}

process.on('unhandledRejection', (reason) => {
  process.stderr.write(`hono-redis-service: unhandled rejection: ${String(reason)}\n`)
  process.exit(EXIT_CODES.failure)
})

await main()
