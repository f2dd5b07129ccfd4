import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { RedisProcess } from './redis-process.js'

const run = promisify(execFile)

/**
 * A real Redis Cluster on loopback for tests: `masters` cluster-enabled `redis-server` processes joined by
 * `redis-cli --cluster create` (Debian's redis-tools), every slot served, no replicas. A short
 * cluster-node-timeout makes a killed master count as failed within about a second, so tests of an outage
 * stay fast. {@link TestRedisCluster.stop} kills every node and removes their directories.
 */
export class TestRedisCluster {
  private constructor(readonly nodes: readonly RedisProcess[]) {}

  static async start({ masters = 3, nodeTimeoutMs = 1000 } = {}): Promise<TestRedisCluster> {
    const started = await Promise.allSettled(
      Array.from({ length: masters }, () => RedisProcess.start(clusterNodeConfig(nodeTimeoutMs))),
    )
    const nodes = started.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []))
    try {
      const failed = started.find((result) => result.status === 'rejected')
      if (failed) throw failed.reason
      const cluster = new TestRedisCluster(nodes)
      await redisCli(['--cluster', 'create', ...nodes.map((node) => node.address), '--cluster-yes'])
      await cluster.waitForState('ok')
      return cluster
    } catch (error) {
      await Promise.all(nodes.map((node) => node.stop()))
      throw error
    }
  }

  /**
   * A cluster-enabled `redis-server` that belongs to no cluster: it serves no slot and says
   * cluster_state:fail. node-redis's createCluster().connect() accepts it as a seed all the same.
   */
  static lonelyNode(): Promise<RedisProcess> {
    return RedisProcess.start(clusterNodeConfig(1000))
  }

  /** A seed URL: the first node. */
  get url(): string {
    return `redis://${this.nodes[0]?.address}`
  }

  /** Every node as a comma-separated list of seed URLs (REDIS_URL's cluster form). */
  get seedUrls(): string {
    return this.nodes.map((node) => `redis://${node.address}`).join(',')
  }

  /** Resolves once every running node reports `state` (CLUSTER INFO's cluster_state). */
  async waitForState(state: 'ok' | 'fail', timeoutMs = 10_000): Promise<void> {
    const deadline = performance.now() + timeoutMs
    for (;;) {
      const states = await Promise.all(
        this.nodes.filter((node) => node.running).map((node) => clusterState(node.port)),
      )
      if (states.every((seen) => seen === state)) return
      if (performance.now() > deadline) {
        throw new Error(`cluster_state is ${states.join(', ')}, not ${state}, after ${timeoutMs} ms`)
      }
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((node) => node.stop()))
  }
}

/**
 * The index (in {@link TestRedisCluster.nodes}) of the master serving `slot` in a cluster of `masters` made
 * by {@link TestRedisCluster.start}: `redis-cli --cluster create` gives the masters equal runs of slots in
 * order, rounding each run's end (0-5460, 5461-10922 and 10923-16383 for three).
 */
export function masterOfSlot(slot: number, masters = 3): number {
  const perMaster = 16384 / masters
  for (let master = 0; master < masters - 1; master++) {
    if (slot <= Math.round((master + 1) * perMaster - 1)) return master
  }
  return masters - 1
}

function clusterNodeConfig(nodeTimeoutMs: number): string[] {
  return [
    'cluster-enabled yes',
    'cluster-config-file nodes.conf',
    `cluster-node-timeout ${nodeTimeoutMs}`,
    'appendonly no',
  ]
}

/** Runs redis-cli with `args` (on PATH: Debian's redis-tools), resolving with its output. */
export async function redisCli(args: readonly string[]): Promise<string> {
  const { stdout } = await run('redis-cli', [...args], { timeout: 15_000 })
  return stdout
}

/** CLUSTER INFO's cluster_state of the node on `port`, or 'down' when it does not answer. */
async function clusterState(port: number): Promise<string> {
  try {
    const info = await redisCli(['-p', String(port), 'cluster', 'info'])
    return /cluster_state:(\w+)/.exec(info)?.[1] ?? 'unknown'
  } catch {
    return 'down'
  }
}
