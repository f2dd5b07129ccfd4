import { afterAll, inject } from 'vitest'
import type { RedisConnection } from '../../src/redis/connection.js'
import { buildAppOn, type TopologyTestApp } from './app.js'
import { keySlot } from './key-slot.js'
import { TestRedisCluster } from './redis-cluster.js'

/** The topologies a suite can run on: the shared standalone Redis, or a Redis Cluster. */
export const SUITE_TOPOLOGIES = ['standalone', 'cluster'] as const
export type SuiteTopology = (typeof SUITE_TOPOLOGIES)[number]

let cluster: Promise<TestRedisCluster> | undefined

/**
 * The calling test file's Redis Cluster: started on first use (about 2 s: a new master waits before it
 * says cluster_state:ok), shared by every suite of the file, stopped after it.
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
 * Builds the app (see buildAppOn) on `topology`: the standalone Redis every file shares (global setup),
 * or the file's cluster. A suite written against it runs on both:
 *
 * @example
 * ```ts
 * describe.each(SUITE_TOPOLOGIES)('appends on %s', (topology) => {
 *   it('stores an item', async () => {
 *     const { app } = await buildAppOnTopology(topology)
 *   })
 * })
 * ```
 */
export async function buildAppOnTopology(
  topology: SuiteTopology,
  overrides: Record<string, string> = {},
): Promise<TopologyTestApp> {
  if (topology === 'standalone') return buildAppOn(inject('redisUrl'), overrides)
  return buildAppOn((await fileCluster()).url, { REDIS_MODE: 'cluster', ...overrides })
}

/** `host:port` of the master that serves `key`'s slot, as a cluster connection's slot map says. */
export function masterOf({ topology }: RedisConnection, key: string): string {
  if (topology.mode !== 'cluster') throw new Error(`a ${topology.mode} connection has no slots`)
  const { host, port } = topology.client.getSlotMaster(keySlot(key))
  return `${host}:${port}`
}
