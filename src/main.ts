import type { Server } from 'node:http'
import { serve } from '@hono/node-server'
import { createApp } from './app.js'
import { ConfigError, describeRedisUrl, type Env, loadEnv } from './env.js'
import type { Logger } from './logger.js'
import { connectWithinBudget, createNodeRedisClient, RedisStartupError } from './redis/connection.js'
import { createRedisFacade } from './redis/facade.js'
import { drainAndClose } from './shutdown.js'

/**
 * The process: the only file that reads process.env, handles signals or exits.
 *
 * Exit codes (sysexits.h): 0 clean shutdown, 1 failure or forced/late shutdown, 69 (EX_UNAVAILABLE)
 * Redis unreachable at startup, 78 (EX_CONFIG) invalid configuration.
 */
export const EXIT_CODES = { ok: 0, failure: 1, unavailable: 69, config: 78 } as const

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

async function main() {
  const env = loadConfigOrExit()

  // The app's logger, once there is an app: one pino destination per process, so lines never interleave.
  let logger: Logger | undefined
  let lastLoggedError = ''
  const client = createNodeRedisClient({
    url: env.redisUrl,
    commandTimeoutMs: env.redisCommandTimeoutMs,
    // During startup connectWithinBudget keeps the last reason for the exit message; once running,
    // an outage is logged once per distinct error rather than once per reconnect attempt.
    onError: (error) => {
      if (!logger || error.message === lastLoggedError) return
      lastLoggedError = error.message
      logger.warn({ err: error.message }, 'redis connection error; reconnecting')
    },
  })
  client.on('ready', () => {
    if (logger && lastLoggedError) logger.info('redis connection restored')
    lastLoggedError = ''
  })

  try {
    await connectWithinBudget(client, env.redisUrl, env.redisConnectTimeoutMs)
  } catch (error) {
    if (!(error instanceof RedisStartupError)) throw error
    fail(EXIT_CODES.unavailable, [
      `cannot reach Redis at ${error.target} within ${error.budgetMs} ms (exit ${EXIT_CODES.unavailable})`,
      `  last reason: ${error.lastReason}`,
      '  Check that Redis is running and that REDIS_URL (host, port, password, redis:// vs rediss://) is right.',
      '  Locally: `npm run local` starts a throw-away Redis with the service, or `docker compose up -d redis`.',
      '  A slow-starting Redis: raise REDIS_CONNECT_TIMEOUT_MS.',
    ])
  }

  const app = createApp(env, createRedisFacade(client, { commandTimeoutMs: env.redisCommandTimeoutMs }))
  logger = app.logger
  const server = serve({ fetch: app.fetch, port: env.port, hostname: env.host }, (info) => {
    logger.info(
      { url: `http://${info.address}:${info.port}`, redis: describeRedisUrl(env.redisUrl) },
      'listening',
    )
  }) as Server
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
    logger.info({ signal, timeoutMs: env.shutdownTimeoutMs }, 'shutdown requested')
    setTimeout(() => {
      logger.error({ timeoutMs: env.shutdownTimeoutMs }, 'shutdown timed out: exiting')
      process.exit(EXIT_CODES.failure)
    }, env.shutdownTimeoutMs)
    drainAndClose({
      server,
      lifecycle: app.lifecycle,
      delayMs: env.shutdownDelayMs,
      closeRedis: () => (client.isReady ? client.close() : Promise.resolve(client.destroy())),
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
