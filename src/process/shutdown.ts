import type { Server } from 'node:http'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Lifecycle } from './lifecycle.js'
import type { Logger } from './logger.js'

export interface DrainOptions {
  server: Server
  lifecycle: Lifecycle
  /** Keep serving this long after readiness fails, so the load balancer can deregister us. */
  delayMs: number
  closeRedis: () => Promise<void>
  logger: Logger
}

/** How often idle keep-alive connections are swept while in-flight requests finish. */
const IDLE_SWEEP_MS = 50

/**
 * The graceful part of a graceful shutdown, in order: fail readiness, keep serving for `delayMs`, stop
 * accepting connections, end long-lived responses (SSE), let in-flight requests finish, close Redis.
 * The hard deadline and the exit codes belong to main.ts.
 */
export async function drainAndClose({ server, lifecycle, delayMs, closeRedis, logger }: DrainOptions) {
  lifecycle.beginShutdown()
  logger.info({ delayMs }, 'shutdown: readiness failing, still serving')
  await sleep(delayMs)

  logger.info('shutdown: closing listener and ending streams')
  const closed = new Promise<void>((resolve) => server.close(() => resolve()))
  await lifecycle.close()
  // server.close() only drops connections idle at that moment; keep-alive connections whose request
  // finishes later would otherwise hold the server open until their keep-alive timeout.
  const sweep = setInterval(() => server.closeIdleConnections(), IDLE_SWEEP_MS)
  server.closeIdleConnections()
  try {
    await closed
  } finally {
    clearInterval(sweep)
  }
  await closeRedis()
  logger.info('shutdown: complete')
}
