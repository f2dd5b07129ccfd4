import { afterAll, inject } from 'vitest'
import type { NodeRedisClient, RedisConnection } from '../../src/redis/connection.js'
import { buildAppOn, type TopologyTestApp } from './app.js'
import { keySlot } from './key-slot.js'
import { TestRedisCluster } from './redis-cluster.js'

/** The topologies a suite can run on: the standalone Redis or the Redis Cluster that global setup shares. */
export const SUITE_TOPOLOGIES = ['standalone', 'cluster'] as const
export type SuiteTopology = (typeof SUITE_TOPOLOGIES)[number]

let cluster: Promise<TestRedisCluster> | undefined

/**
 * A Redis Cluster of the calling file's own, for tests that kill or restart its nodes or move its slots:
 * started on first use (about 2 s: a new master waits before it says cluster_state:ok), shared by every
 * suite of the file, stopped after it. Suites that only use a cluster run on the one global setup shares (`inject('clusterUrl')`).
 */
export function fileCluster(): Promise<TestRedisCluster> {
  if (!cluster) {
    const starting = TestRedisCluster.start()
    cluster = starting
    afterAll(async () => (await starting).stop())
  }
  return cluster
}

/**
 * Builds the app (see buildAppOn) on `topology`: the standalone Redis or the three-master Redis Cluster
 * that every file shares (global setup), with {@link KeyedTestCommands} for raw assertions. Test data must
 * be unique per test (fresh buffer names, sessions): nothing flushes either between tests. A suite written
 * against it runs on both:
 *
 * @example
 * ```ts
 * describe.each(SUITE_TOPOLOGIES)('appends on %s', (topology) => {
 *   it('stores an item', async () => {
 *     const { app, client } = await buildAppOnTopology(topology)
 *   })
 * })
 * ```
 */
export async function buildAppOnTopology(
  topology: SuiteTopology,
  overrides: Record<string, string> = {},
): Promise<TopologyTestApp & { client: KeyedTestCommands }> {
  const built =
    topology === 'standalone'
      ? await buildAppOn(inject('redisUrl'), overrides)
      : await buildAppOn(inject('clusterUrl'), { REDIS_MODE: 'cluster', ...overrides })
  return { ...built, client: keyedTestCommands(built.connection) }
}

/**
 * The raw commands tests send about one key (TTL, EXISTS, XRANGE, planting a value...), with node-redis's
 * client signatures; on a cluster, node-redis's cluster client routes each to the master of its key's slot.
 * Nothing here reaches one server as a whole (INFO, KEYS, FLUSHALL): a test that needs that is a test of
 * one standalone server.
 */
export type KeyedTestCommands = Pick<
  NodeRedisClient,
  'del' | 'exists' | 'expire' | 'hSet' | 'ttl' | 'type' | 'xRange' | 'xRevRange'
>

/** {@link KeyedTestCommands} on the connection's topology: its node-redis client, cluster or sentinel. */
const keyedTestCommands = ({ topology }: RedisConnection): KeyedTestCommands => topology.client

/**
 * `host:port` of the master that serves `key`'s slot, as a cluster connection's slot map says; on
 * another topology, the one master's label.
 */
export function masterOf({ topology }: RedisConnection, key: string): string {
  if (topology.mode !== 'cluster') return `the ${topology.mode} master`
  const { host, port } = topology.client.getSlotMaster(keySlot(key))
  return `${host}:${port}`
}
