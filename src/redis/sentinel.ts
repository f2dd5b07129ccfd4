import { createSentinel } from 'redis'
import type { RedisNodeAddress } from '../env.js'
import { isRefusal } from './failures.js'
import {
  COMMAND_OPTIONS,
  nodeClientOptions,
  type ProbeConnect,
  probeConnections,
  type RedisSettings,
  redisEndpoints,
  socketOptions,
} from './node-options.js'
import { probeReason, RedisStartupError, reasonOf, StartupBudget } from './startup-budget.js'
import type { BlockingConnections } from './stream-reader.js'
import { type BlockingReads, helloRole, type TopologyBase } from './topology.js'
import { waitConnection as createWaitConnection, pipelined } from './wait-connection.js'

/**
 * REDIS_MODE=sentinel: a primary whose address the sentinels (REDIS_SENTINELS) know by name
 * (REDIS_SENTINEL_NAME), through node-redis's own createSentinel, which follows the master after a
 * failover. REDIS_URL gives the data nodes' scheme (rediss:// is TLS, to the sentinels too),
 * credentials and database; its host is not used.
 */

export type NodeRedisSentinel = ReturnType<typeof createNodeRedisSentinel>

export interface SentinelTopology extends TopologyBase, BlockingReads {
  readonly mode: 'sentinel'
  /** The node-redis sentinel client underneath, for tests' assertions. */
  readonly client: NodeRedisSentinel
}

interface SentinelSettings {
  name: string
  sentinels: readonly RedisNodeAddress[]
}

function sentinelSettings(settings: RedisSettings): SentinelSettings {
  const { redisSentinelName: name, redisSentinels: sentinels } = settings
  // env.ts requires both in this mode.
  if (!name || sentinels.length === 0)
    throw new Error('sentinel mode needs REDIS_SENTINELS and REDIS_SENTINEL_NAME')
  return { name, sentinels }
}

/** Options of a connection to a sentinel: its own credentials, TLS as the data nodes'. */
function sentinelClientOptions(settings: RedisSettings, tls: boolean) {
  return {
    ...(settings.redisSentinelUsername !== undefined && { username: settings.redisSentinelUsername }),
    ...(settings.redisSentinelPassword !== undefined && { password: settings.redisSentinelPassword }),
    socket: socketOptions(settings, tls),
  }
}

function createNodeRedisSentinel(settings: RedisSettings) {
  const [endpoint] = redisEndpoints(settings.redisUrl)
  if (!endpoint) throw new Error('REDIS_URL is required')
  const { name, sentinels } = sentinelSettings(settings)
  const sentinel = createSentinel({
    name,
    sentinelRootNodes: sentinels.map(({ host, port }) => ({ host, port })),
    nodeClientOptions: nodeClientOptions(settings, endpoint),
    sentinelClientOptions: sentinelClientOptions(settings, endpoint.tls),
    commandOptions: COMMAND_OPTIONS,
  })
  // node-redis kills the process on an unhandled 'error' event; the process logs the master's errors.
  sentinel.on('error', () => {})
  return sentinel
}

/**
 * Reaches the master through the sentinels within REDIS_CONNECT_TIMEOUT_MS, retrying. First the
 * sentinels are asked where the master is (SENTINEL GET-MASTER-ADDR-BY-NAME), then that master is
 * connected to once with REDIS_URL's credentials, so that a failure says which part failed: no sentinel
 * answered, the master name is unknown to them, or the master they name does not answer or refuses the
 * login (that one ends startup at once, as in standalone mode). node-redis's own connect would retry
 * each of those for 16 s and say none of them: a refused login it retries silently, forever.
 */
export async function connectSentinel(settings: RedisSettings): Promise<SentinelTopology> {
  const { name, sentinels } = sentinelSettings(settings)
  const budget = new StartupBudget(
    settings.redisConnectTimeoutMs,
    `master "${name}" through the sentinels ${sentinels.map(({ host, port }) => `${host}:${port}`).join(',')}`,
  )
  const [endpoint] = redisEndpoints(settings.redisUrl)
  if (!endpoint) throw new Error('REDIS_URL is required')
  const connectToSentinel = probeConnections(sentinelClientOptions(settings, endpoint.tls))
  const connectToMaster = probeConnections(nodeClientOptions(settings, endpoint))
  for (;;) {
    let sentinel: NodeRedisSentinel | undefined
    try {
      // Each question is bounded by the budget itself, so that one left unanswered is named (askSentinels).
      const master = await askSentinels(settings, connectToSentinel, budget)
      await budget.within(() => checkMaster(master, connectToMaster, budget))
      const opened = createNodeRedisSentinel(settings)
      sentinel = opened
      opened.on('client-error', ({ type, error }: { type: string; error: Error }) => {
        if (type === 'MASTER') budget.note(masterFailure(master, error))
      })
      await budget.within(() => opened.connect())
      await budget.within(() => opened.ping())
      opened.removeAllListeners('client-error')
      return sentinelTopology(opened)
    } catch (error) {
      void sentinel?.destroy().catch(() => {})
      if (error instanceof RedisStartupError) throw error
      await budget.failed(error)
    }
  }
}

const formatAddress = ({ host, port }: RedisNodeAddress) => `${host}:${port}`

const masterFailure = (master: RedisNodeAddress, error: unknown) =>
  `the master at ${formatAddress(master)} does not answer: ${reasonOf(error)}`

/**
 * Logs in to the master the sentinels named, once, with the data nodes' credentials and database.
 * Throws the budget's refusal on a reply no retry changes (WRONGPASS, NOAUTH, NOPERM, a database it
 * lacks), else an error saying the master does not answer.
 */
async function checkMaster(master: RedisNodeAddress, connect: ProbeConnect, budget: StartupBudget) {
  try {
    const client = await connect(master)
    try {
      await client.ping()
    } finally {
      client.destroy()
    }
  } catch (error) {
    if (isRefusal(error))
      throw budget.refused(
        `the master at ${formatAddress(master)} refused the connection: ${reasonOf(error)}`,
      )
    throw new Error(masterFailure(master, error))
  }
}

/**
 * Asks every sentinel at once where the master is, each within what is left of the budget; resolves with
 * the first address. Rejects saying "master name unknown" when sentinels answered without knowing the
 * name, else "no sentinel answered" with their errors (one that never finished the handshake, a TLS
 * one to a sentinel without TLS for instance, is named too).
 */
async function askSentinels(
  settings: RedisSettings,
  connect: ProbeConnect,
  budget: StartupBudget,
): Promise<RedisNodeAddress> {
  const { name, sentinels } = sentinelSettings(settings)
  const answers = await Promise.allSettled(
    sentinels.map((address) =>
      budget.within(async () => {
        const client = await connect(address)
        try {
          return (await client.sendCommand(['SENTINEL', 'GET-MASTER-ADDR-BY-NAME', name])) as
            | [string, string]
            | null
        } finally {
          client.destroy()
        }
      }),
    ),
  )
  for (const answer of answers) {
    if (answer.status === 'fulfilled' && answer.value) {
      const [host, port] = answer.value
      return { host, port: Number(port) }
    }
  }
  const expired = budget.cutShort(answers)
  if (expired) throw expired
  if (answers.some((answer) => answer.status === 'fulfilled')) {
    throw new Error(`master name unknown: no sentinel monitors a master named "${name}"`)
  }
  const reasons = answers.map((answer, i) => {
    const sentinel = sentinels[i]
    const reason = answer.status === 'fulfilled' ? 'no answer' : probeReason(answer.reason)
    return `${sentinel?.host}:${sentinel?.port} ${reason}`
  })
  throw new Error(`no sentinel answered (${reasons.join('; ')})`)
}

function sentinelTopology(sentinel: NodeRedisSentinel): SentinelTopology {
  // A duplicate of the sentinel client: its own master connection, which follows failovers as this one does.
  const waitConnection = createWaitConnection(
    () => sentinel.duplicate(),
    (own, _key, commands) =>
      pipelined(own.multi(), commands, (multi, command) => multi.addCommand(false, command)),
  )
  return {
    mode: 'sentinel',
    client: sentinel,
    commands: sentinel,
    waitConnection,
    ping: () => sentinel.ping(),
    role: async () => helloRole(await sentinel.hello()),
    // Ready once the sentinels' master is connected, and again after each failover.
    get isReady() {
      return sentinel.isReady
    },
    onError: (listener) =>
      sentinel.on('client-error', ({ type, error }: { type: string; error: Error }) => {
        if (type === 'MASTER') listener(error)
      }),
    onReady: (listener) => sentinel.on('ready', listener),
    blocking: sentinelConnections(sentinel),
    close: async () => {
      await Promise.all([sentinel.close(), waitConnection.close()])
    },
    destroy: () => {
      void sentinel.destroy().catch(() => {})
      waitConnection.destroy()
    },
  }
}

/**
 * Blocking connections that follow the master: each is a duplicate of the sentinel client (its own
 * master connection, where a block holds nobody else's commands), which moves to the new master after
 * a failover as the shared one does.
 */
function sentinelConnections(sentinel: NodeRedisSentinel): BlockingConnections {
  return {
    open: () => {
      const dedicated = sentinel.duplicate()
      dedicated.on('error', () => {})
      return {
        get isReady() {
          return dedicated.isReady
        },
        onReady: (listener) => dedicated.on('ready', listener),
        connect: () => dedicated.connect(),
        destroy: () => void dedicated.destroy().catch(() => {}),
        clientId: () => dedicated.clientId(),
        send: (command) => dedicated.sendCommand(false, [...command]),
        unblock: (id) => sentinel.clientUnblock(id),
      }
    },
  }
}
