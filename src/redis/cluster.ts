import { createCluster, ErrorReply } from 'redis'
import { describeRedisUrl } from '../env.js'
import { ClusterStateError, isRefusal } from './failures.js'
import {
  COMMAND_OPTIONS,
  nodeClientOptions,
  type ProbeConnect,
  probeConnections,
  type RedisEndpoint,
  type RedisSettings,
  redisEndpoints,
} from './node-options.js'
import type { StreamNotifications } from './notified-stream-reader.js'
import type { NodeRedisClient } from './standalone.js'
import { probeReason, RedisStartupError, reasonOf, StartupBudget } from './startup-budget.js'
import { combinedRole, helloRole, type NotifiedReads, type TopologyBase } from './topology.js'
import { waitConnection as createWaitConnection, pipelined } from './wait-connection.js'

/**
 * REDIS_MODE=cluster: a Redis Cluster, found from any seed node (REDIS_URL, or a comma-separated list of
 * them), through node-redis's createCluster, which routes each command to the master serving its key's
 * slot and follows MOVED and ASK. Only masters serve: no reads from replicas.
 */

export type NodeRedisCluster = ReturnType<typeof createNodeRedisCluster>

export interface ClusterTopology extends TopologyBase, NotifiedReads {
  readonly mode: 'cluster'
  /** The node-redis cluster client underneath, for tests' assertions. */
  readonly client: NodeRedisCluster
}

function seedsOf(settings: RedisSettings): [RedisEndpoint, ...RedisEndpoint[]] {
  const [first, ...rest] = redisEndpoints(settings.redisUrl)
  if (!first) throw new Error('REDIS_URL names no seed node')
  return [first, ...rest]
}

/**
 * The options of every connection to a node, seeds included: env.ts requires one scheme and one set of
 * credentials for all seeds, and no database but 0 (a cluster has no other, and refuses SELECT).
 */
function clusterNodeOptions(settings: RedisSettings) {
  const { database: _database, ...options } = nodeClientOptions(settings, seedsOf(settings)[0])
  return options
}

function createNodeRedisCluster(settings: RedisSettings) {
  const cluster = createCluster({
    rootNodes: seedsOf(settings).map(({ host, port }) => ({ socket: { host, port } })),
    // Every connection to a discovered node is made from these (credentials, TLS, no offline queue).
    defaults: clusterNodeOptions(settings),
    commandOptions: COMMAND_OPTIONS,
  })
  // node-redis kills the process on an unhandled 'error' event; the process logs the nodes' errors.
  cluster.on('error', () => {})
  return cluster
}

/**
 * Reaches the cluster within REDIS_CONNECT_TIMEOUT_MS, retrying, and only once it can serve: node-redis's
 * connect() succeeds against a seed that serves no slot, and gives up at once on a closed seed. So the
 * seeds are asked CLUSTER INFO first (one must say cluster_state:ok), then the cluster client connects,
 * then every master must answer PING and say cluster_state:ok.
 */
export async function connectCluster(settings: RedisSettings): Promise<ClusterTopology> {
  const budget = new StartupBudget(
    settings.redisConnectTimeoutMs,
    `the cluster with seed nodes ${describeRedisUrl(settings.redisUrl)}`,
  )
  const connectToSeed = probeConnections(clusterNodeOptions(settings))
  // The nodes the seeds announce are reached at the addresses they announce: say which one failed, and
  // why (a certificate that does not name that address, a firewall), rather than "no answer".
  const noteNodeError = (error: Error, node?: { host?: string; port?: number }) =>
    budget.note(`the node at ${node?.host}:${node?.port} does not answer: ${reasonOf(error)}`)
  for (;;) {
    let cluster: NodeRedisCluster | undefined
    try {
      // Each question is bounded by the budget itself, so that one left unanswered is named (askSeeds).
      await askSeeds(settings, connectToSeed, budget)
      const opened = createNodeRedisCluster(settings)
      cluster = opened
      opened.on('node-error', noteNodeError)
      await budget.within(() => opened.connect())
      const topology = clusterTopology(opened)
      await budget.within(() => topology.ping())
      opened.off('node-error', noteNodeError)
      return topology
    } catch (error) {
      cluster?.destroy()
      if (error instanceof RedisStartupError) throw error
      await budget.failed(error)
    }
  }
}

/**
 * Asks every seed at once for CLUSTER INFO; resolves when one says cluster_state:ok. Throws the budget's
 * refusal when a seed refused the login (WRONGPASS, NOAUTH, NOPERM: no retry changes it) and none is ok;
 * rejects saying "the cluster is not ok" when seeds answered otherwise (a state, or an error reply), else
 * that no seed answered, with why.
 */
async function askSeeds(
  settings: RedisSettings,
  connect: ProbeConnect,
  budget: StartupBudget,
): Promise<void> {
  const seeds = seedsOf(settings)
  const refusals: string[] = []
  const answers = await Promise.allSettled(
    seeds.map((seed) =>
      budget.within(async () => {
        const client = await connect(seed).catch((error: unknown) => {
          if (isRefusal(error))
            refusals.push(`the seed at ${seed.host}:${seed.port} refused the connection: ${reasonOf(error)}`)
          throw error
        })
        try {
          return clusterState(String(await client.clusterInfo()))
        } finally {
          client.destroy()
        }
      }),
    ),
  )
  if (answers.some((answer) => answer.status === 'fulfilled' && answer.value === 'ok')) return
  if (refusals.length > 0) throw budget.refused(refusals.join('; '))
  const expired = budget.cutShort(answers)
  if (expired) throw expired
  const reasons = answers.map((answer, i) => {
    const seed = seeds[i]
    const said = answer.status === 'fulfilled' ? `cluster_state:${answer.value}` : probeReason(answer.reason)
    return `${seed?.host}:${seed?.port} ${said}`
  })
  // An error reply is an answer too: a Redis without cluster support, say.
  const answered = (answer: PromiseSettledResult<string>) =>
    answer.status === 'fulfilled' || answer.reason instanceof ErrorReply
  if (answers.some(answered)) throw new Error(`the cluster is not ok (${reasons.join('; ')})`)
  throw new Error(`no seed node answered (${reasons.join('; ')})`)
}

/** CLUSTER INFO's cluster_state: 'ok', 'fail', or 'unknown' when it does not say. */
function clusterState(info: string): string {
  return /cluster_state:(\w+)/.exec(info)?.[1] ?? 'unknown'
}

function clusterTopology(cluster: NodeRedisCluster): ClusterTopology {
  // A duplicate of the cluster client: a connection of its own to each master, found and moved as its are.
  const waitConnection = createWaitConnection(() => cluster.duplicate(), followMoved)
  // Each master's command client (node-redis's own: it reconnects it, and drops it on a topology change).
  const masters = () =>
    cluster.masters.map((master) => cluster.nodeClient(master) as Promise<NodeRedisClient>)
  return {
    mode: 'cluster',
    client: cluster,
    commands: cluster,
    waitConnection,
    async ping() {
      const clients = masters()
      if (clients.length === 0) throw new ClusterStateError('fail', 'no master serves a slot')
      await Promise.all(
        clients.map(async (pending) => {
          const client = await pending
          // One round trip per master: node-redis writes both at once.
          const [pong, info] = await Promise.all([client.ping(), client.clusterInfo()])
          const state = clusterState(String(info))
          if (state !== 'ok') throw new ClusterStateError(state, addressOf(client))
          return pong
        }),
      )
      return 'PONG'
    },
    async role() {
      const roles = await Promise.all(
        masters().map(async (client) => helloRole(await (await client).hello())),
      )
      return combinedRole(roles)
    },
    get isReady() {
      return cluster.isReady && cluster.masters.every((master) => master.client?.isReady === true)
    },
    onError: (listener) => cluster.on('node-error', (error: Error) => listener(error)),
    onReady: (listener) => cluster.on('node-ready', listener),
    notifications: clusterNotifications(cluster),
    close: async () => {
      await Promise.all([cluster.close(), waitConnection.close()])
    },
    destroy: () => {
      cluster.destroy()
      waitConnection.destroy()
    },
  }
}

/**
 * Reads and shard channels for the live reader (notified-stream-reader.ts) on node-redis's own
 * connections: the command connection of each master, and its one sharded pub/sub connection per master.
 */
function clusterNotifications(cluster: NodeRedisCluster): StreamNotifications {
  return {
    read: (firstKey, command) => cluster.sendCommand(firstKey, true, [...command]),
    subscribe: (channel, listener) => cluster.sSubscribe(channel, listener),
    unsubscribe: (channel) => cluster.sUnsubscribe(channel),
    get isReady() {
      return (
        cluster.isReady &&
        cluster.masters.every(
          ({ client, pubSub }) =>
            client?.isReady === true &&
            // A shard connection still within its first attempt counts as ready, as a new reader's does.
            (!pubSub || pubSub.connectPromise !== undefined || pubSub.client.isReady),
        )
      )
    },
    // node-redis emits it for every node connection, shard connections included.
    onReady: (listener) => cluster.on('node-ready', listener),
    // When a slot moves, its master ends its shard subscriptions (SUNSUBSCRIBE) and node-redis makes them
    // again on the new master; this is when that failed.
    onSubscriptionLost: (listener) =>
      cluster.on('sharded-channel-moved-error', (_error: Error, channel: string) => listener(channel)),
  }
}

/**
 * `commands` as one pipeline on the master of `key`'s slot. node-redis follows MOVED for a single command,
 * not for a pipeline, whose keyed commands the old node refused (none ran): one keyed read follows it and
 * refreshes the slot map, then the pipeline goes once more. ASK (a slot in the middle of a move) stays a
 * transient failure, a 503.
 */
async function followMoved(
  cluster: NodeRedisCluster,
  key: string,
  commands: readonly (readonly string[])[],
): Promise<unknown[]> {
  const run = () =>
    pipelined(cluster.multi(key), commands, (multi, command) => multi.addCommand(key, false, command))
  try {
    return await run()
  } catch (error) {
    if (!(error instanceof ErrorReply && error.message.startsWith('MOVED'))) throw error
    await cluster.sendCommand(key, true, ['EXISTS', key])
    return run()
  }
}

/** `host:port` of a node client. */
function addressOf(client: NodeRedisClient): string {
  const socket = client.options?.socket as { host?: string; port?: number } | undefined
  return `${socket?.host}:${socket?.port}`
}
