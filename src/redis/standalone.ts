import { createClient, type ErrorReply } from 'redis'
import { describeRedisUrl } from '../env.js'
import { DeadlineExceededError } from '../lib/deadline.js'
import { duplicatedConnections } from './blocking-connections.js'
import { isRefusal, isTransientReply } from './failures.js'
import { COMMAND_OPTIONS, nodeClientOptions, type RedisSettings, redisEndpoints } from './node-options.js'
import { RedisStartupError, reasonOf, StartupBudget } from './startup-budget.js'
import { type BlockingReads, helloRole, type TopologyBase } from './topology.js'
import { waitConnection as createWaitConnection, pipelined } from './wait-connection.js'

/** REDIS_MODE=standalone: one Redis server at REDIS_URL. */

export type NodeRedisClient = ReturnType<typeof createNodeRedisClient>

export interface StandaloneTopology extends TopologyBase, BlockingReads {
  readonly mode: 'standalone'
  /** The node-redis client underneath, for tests' assertions. */
  readonly client: NodeRedisClient
}

function createNodeRedisClient(settings: RedisSettings) {
  const [endpoint] = redisEndpoints(settings.redisUrl)
  if (!endpoint) throw new Error('REDIS_URL names no server')
  const options = nodeClientOptions(settings, endpoint)
  const client = createClient({
    ...options,
    commandOptions: COMMAND_OPTIONS,
    socket: { ...options.socket, host: endpoint.host, port: endpoint.port },
  })
  // node-redis kills the process on an unhandled 'error' event; the process logs them (main.ts).
  client.on('error', () => {})
  return client
}

/**
 * Connects to the server, retrying (a Redis that starts a moment later, or is still loading its data,
 * is fine), until the whole handshake (TCP, TLS, HELLO/AUTH and a PING) has succeeded or
 * REDIS_CONNECT_TIMEOUT_MS is spent; then throws RedisStartupError with the last reason, after
 * destroying the client, so no reconnect loop outlives the attempt. Once connected, node-redis
 * reconnects on its own, forever.
 */
export async function connectStandalone(settings: RedisSettings): Promise<StandaloneTopology> {
  const budget = new StartupBudget(
    settings.redisConnectTimeoutMs,
    describeRedisUrl(settings.redisUrl),
    'no answer from Redis (the connection opened but the handshake never completed)',
  )
  const client = createNodeRedisClient(settings)
  let socketOpened = false
  // node-redis retries a refused handshake like a lost connection; a refusal ends startup at once instead.
  let refuse: (refusal: ErrorReply) => void = () => {}
  const refusal = new Promise<never>((_, reject) => {
    refuse = reject
  })
  refusal.catch(() => {})
  const recordError = (error: Error) => {
    budget.note(reasonOf(error))
    if (isRefusal(error)) refuse(error)
  }
  const recordConnect = () => {
    socketOpened = true
  }
  client.on('error', recordError)
  client.on('connect', recordConnect)
  try {
    // node-redis retries the connection itself (its reconnect strategy); only "not now" replies to the
    // PING (LOADING, BUSY) are retried here.
    await budget.within(() => Promise.race([client.connect(), refusal]))
    for (;;) {
      try {
        await budget.within(() => client.ping())
        break
      } catch (error) {
        if (!isTransientReply(error)) throw error
        await budget.failed(error)
      }
    }
  } catch (error) {
    client.destroy()
    if (error instanceof RedisStartupError) throw error
    if (isRefusal(error)) throw budget.refused(reasonOf(error))
    if (error instanceof Error && !(error instanceof DeadlineExceededError)) {
      budget.note(reasonOf(error))
    }
    if (!socketOpened && budget.lastReason.startsWith('no answer')) {
      budget.note('connection attempt timed out')
    }
    throw budget.exhausted()
  } finally {
    client.off('error', recordError)
    client.off('connect', recordConnect)
  }
  return standaloneTopology(client)
}

/** The topology over a node-redis client; connectStandalone connects it first. */
export function standaloneTopology(client: NodeRedisClient): StandaloneTopology {
  const waitConnection = createWaitConnection(
    () => client.duplicate(),
    (own, _key, commands) => pipelined(own.multi(), commands, (multi, command) => multi.addCommand(command)),
  )
  return {
    mode: 'standalone',
    client,
    commands: client,
    waitConnection,
    ping: () => client.ping(),
    role: async () => helloRole(await client.hello()),
    get isReady() {
      return client.isReady
    },
    onError: (listener) => client.on('error', listener),
    onReady: (listener) => client.on('ready', listener),
    blocking: duplicatedConnections(client),
    close: async () => {
      await Promise.all([client.isReady ? client.close() : client.destroy(), waitConnection.close()])
    },
    destroy: () => {
      client.destroy()
      waitConnection.destroy()
    },
  }
}
