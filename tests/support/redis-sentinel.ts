import { redisCli } from './redis-cluster.js'
import { RedisProcess } from './redis-process.js'

/** The master name the sentinels of {@link TestSentinelSet} monitor. */
export const SENTINEL_MASTER_NAME = 'testmaster'

/**
 * A real Sentinel deployment on loopback for tests: one primary, one replica, three sentinels (quorum 2)
 * monitoring it as {@link SENTINEL_MASTER_NAME}. Short down-after and failover timeouts make a failover
 * take a second or two. {@link TestSentinelSet.stop} kills every process and removes their directories.
 */
export class TestSentinelSet {
  private constructor(
    readonly primary: RedisProcess,
    readonly replica: RedisProcess,
    readonly sentinels: readonly RedisProcess[],
  ) {}

  static async start({ downAfterMs = 500, failoverTimeoutMs = 2000 } = {}): Promise<TestSentinelSet> {
    const processes: RedisProcess[] = []
    try {
      const primary = await RedisProcess.start(['appendonly no'])
      processes.push(primary)
      const replica = await RedisProcess.start(['appendonly no', `replicaof 127.0.0.1 ${primary.port}`])
      processes.push(replica)
      const sentinelConfig = [
        `sentinel monitor ${SENTINEL_MASTER_NAME} 127.0.0.1 ${primary.port} 2`,
        `sentinel down-after-milliseconds ${SENTINEL_MASTER_NAME} ${downAfterMs}`,
        `sentinel failover-timeout ${SENTINEL_MASTER_NAME} ${failoverTimeoutMs}`,
        `sentinel parallel-syncs ${SENTINEL_MASTER_NAME} 1`,
      ]
      const sentinels = await Promise.all(
        [0, 1, 2].map(() => RedisProcess.start(sentinelConfig, { sentinel: true })),
      )
      processes.push(...sentinels)
      return new TestSentinelSet(primary, replica, sentinels)
    } catch (error) {
      await Promise.all(processes.map((process) => process.stop()))
      throw error
    }
  }

  /**
   * Resolves once every sentinel knows the two others and the replica: from then on a failover can
   * happen (sentinels find each other through the master's hello channel, every 2 s).
   */
  async waitForQuorum(timeoutMs = 15_000): Promise<void> {
    const deadline = performance.now() + timeoutMs
    const count = async (port: number, what: 'sentinels' | 'replicas') =>
      (await redisCli(['-p', String(port), 'sentinel', what, SENTINEL_MASTER_NAME])).match(/^name$/gm)
        ?.length ?? 0
    for (;;) {
      const known = await Promise.all(
        this.sentinels.map(async ({ port }) => [
          await count(port, 'sentinels'),
          await count(port, 'replicas'),
        ]),
      )
      if (known.every(([sentinels, replicas]) => sentinels === 2 && replicas === 1)) return
      if (performance.now() > deadline) throw new Error(`sentinels not ready: ${JSON.stringify(known)}`)
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }

  /** The master's `host:port` as the first sentinel says it is now. */
  async masterAddress(): Promise<string> {
    const [sentinel] = this.sentinels
    const reply = await redisCli([
      '-p',
      String(sentinel?.port),
      'sentinel',
      'get-master-addr-by-name',
      SENTINEL_MASTER_NAME,
    ])
    return reply.trim().split('\n').join(':')
  }

  /** REDIS_SENTINELS's form: `host:port,host:port,...`. */
  get sentinelAddresses(): string {
    return this.sentinels.map((sentinel) => sentinel.address).join(',')
  }

  async stop(): Promise<void> {
    await Promise.all([this.primary, this.replica, ...this.sentinels].map((process) => process.stop()))
  }
}
