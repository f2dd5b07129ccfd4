import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Lifecycle } from './lifecycle.js'
import type { Logger } from './logger.js'

export interface DrainOptions {
  server: Server
  /** The server's connections, tracked since it started listening. */
  connections: Connections
  lifecycle: Lifecycle
  /** Keep serving this long after readiness fails, so the load balancer can deregister us. */
  delayMs: number
  closeRedis: () => Promise<void>
  /** Exports the last spans, when tracing is on; within what is left of the budget. */
  flushTraces?: () => Promise<void>
  logger: Logger
}

/** How often idle connections are swept while in-flight requests finish. */
const IDLE_SWEEP_MS = 50

/** The open connections of a server, and which of them have a request in flight. */
export interface Connections {
  /** Destroys every connection with no request in flight; returns how many it closed. */
  closeIdle(): number
}

/**
 * Tracks `server`'s connections from now on. Node's own `closeIdleConnections()` leaves out those that
 * have not sent a complete request head (a silent connect: a browser's preconnect, a scanner; a slow
 * client's half-sent head), and `server.close()` waits for them until the headers timeout.
 */
export function trackConnections(server: Server): Connections {
  const open = new Set<Socket>()
  // Responses come in request order, so a connection's latest response tells whether any is pending.
  const latest = new WeakMap<Socket, ServerResponse>()
  server.on('connection', (socket: Socket) => {
    open.add(socket)
    socket.once('close', () => open.delete(socket))
  })
  server.on('request', (req: IncomingMessage, res: ServerResponse) => latest.set(req.socket, res))
  return {
    closeIdle() {
      let closed = 0
      for (const socket of open) {
        const res = latest.get(socket)
        // In flight: a response not yet finished, or a request body still arriving after an early
        // answer (drained or lingering, bounded by HTTP_REQUEST_TIMEOUT_MS; see http/server.ts).
        if (res && !(res.writableFinished && res.req.complete)) continue
        socket.destroy()
        closed++
      }
      return closed
    },
  }
}

/**
 * The graceful part of a graceful shutdown, in order: fail readiness, keep serving for `delayMs`, stop
 * accepting connections, end long-lived responses (SSE), let in-flight requests finish, close Redis,
 * export the last spans.
 * The hard deadline and the exit codes belong to main.ts.
 */
export async function drainAndClose({
  server,
  connections,
  lifecycle,
  delayMs,
  closeRedis,
  flushTraces,
  logger,
}: DrainOptions) {
  lifecycle.beginShutdown()
  logger.info({ delayMs }, 'shutdown: readiness failing, still serving')
  await sleep(delayMs)

  logger.info('shutdown: closing listener and ending streams')
  const closed = new Promise<void>((resolve) => server.close(() => resolve()))
  // server.close() holds on until every connection has closed. Those with no request in flight are
  // closed now (idle keep-alive ones, and ones that never sent a whole request head), and each one
  // whose request finishes later as soon as it has, instead of at its keep-alive or headers timeout.
  logger.info({ closed: connections.closeIdle() }, 'shutdown: idle connections closed')
  const sweep = setInterval(() => connections.closeIdle(), IDLE_SWEEP_MS)
  try {
    await lifecycle.close()
    await closed
  } finally {
    clearInterval(sweep)
  }
  await closeRedis()
  // Spans are worth a try, not an exit 1: a collector that does not answer costs them, nothing else. (A
  // failed export is the tracing's own report; the flush ends either way.)
  await flushTraces?.().then(
    () => logger.info('shutdown: tracing ended'),
    (error: unknown) =>
      logger.warn({ err: error }, 'shutdown: tracing did not end in time; the spans still queued are lost'),
  )
  logger.info('shutdown: complete')
}
