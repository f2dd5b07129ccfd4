import { setTimeout as sleep } from 'node:timers/promises'
import { createClient } from 'redis'
import type { TestRedisCluster } from './redis-cluster.js'
import type { RedisProcess } from './redis-process.js'

/**
 * A live slot migration on a test cluster, by the standard steps (Redis Cluster specification, "Live
 * reconfiguration"): the target IMPORTING, the source MIGRATING, the slot's keys moved with MIGRATE,
 * then every master told the new owner with SETSLOT NODE (the target first, then the source).
 * Its connections are named `slot-migration` so that a count of the service's connections can leave
 * them out.
 */

export const MIGRATION_CLIENT_NAME = 'slot-migration'

const adminClient = (node: RedisProcess) => {
  const client = createClient({ socket: { host: '127.0.0.1', port: node.port }, name: MIGRATION_CLIENT_NAME })
  client.on('error', () => {})
  return client
}

type AdminClient = ReturnType<typeof adminClient>

export class SlotMigration {
  private constructor(
    private readonly clients: ReadonlyMap<RedisProcess, AdminClient>,
    private readonly ids: ReadonlyMap<RedisProcess, string>,
  ) {}

  static async on(cluster: TestRedisCluster): Promise<SlotMigration> {
    const clients = new Map<RedisProcess, AdminClient>()
    const ids = new Map<RedisProcess, string>()
    for (const node of cluster.nodes) {
      const client = adminClient(node)
      await client.connect()
      clients.set(node, client)
      ids.set(node, String(await client.sendCommand(['CLUSTER', 'MYID'])))
    }
    return new SlotMigration(clients, ids)
  }

  /** The master that serves `slot` now, as `through` sees it (CLUSTER NODES). */
  async ownerOf(slot: number, through = this.anyNode()): Promise<RedisProcess> {
    const nodes = String(await this.client(through).sendCommand(['CLUSTER', 'NODES']))
    for (const line of nodes.split('\n')) {
      const [id, , flags, , , , , , ...ranges] = line.split(' ')
      if (!flags?.includes('master')) continue
      for (const range of ranges) {
        if (range.startsWith('[')) continue // a migration in progress, not a served range
        const [from, to = from] = range.split('-').map(Number) as [number, number?]
        if (slot >= from && slot <= (to as number)) return this.nodeById(id as string)
      }
    }
    throw new Error(`no master serves slot ${slot}`)
  }

  /**
   * Moves `slot` from `source` to `target`. `order` puts the keys it names in that order (after them,
   * whatever else the slot holds, found with CLUSTER GETKEYSINSLOT); each key moves alone, with
   * `pauseMs` after it, so that commands meet the slot in every state of the move. Resolves with the
   * keys moved and when (performance.now()) the source was MIGRATING, before SETSLOT NODE.
   */
  async move(
    slot: number,
    source: RedisProcess,
    target: RedisProcess,
    { order, pauseMs }: { order: readonly string[]; pauseMs: number },
  ): Promise<{ movedKeys: number; migrating: { from: number; to: number } }> {
    const sourceId = this.id(source)
    const targetId = this.id(target)
    await this.client(target).sendCommand(['CLUSTER', 'SETSLOT', String(slot), 'IMPORTING', sourceId])
    await this.client(source).sendCommand(['CLUSTER', 'SETSLOT', String(slot), 'MIGRATING', targetId])
    const from = performance.now()
    let movedKeys = 0
    const migrate = async (key: string) => {
      const reply = await this.client(source).sendCommand([
        'MIGRATE',
        '127.0.0.1',
        String(target.port),
        '',
        '0',
        '5000',
        'KEYS',
        key,
      ])
      if (String(reply) === 'OK') movedKeys++ // NOKEY: a key that does not exist (a buffer without meta)
      await sleep(pauseMs)
    }
    for (const key of order) await migrate(key)
    for (;;) {
      const left = (await this.client(source).sendCommand([
        'CLUSTER',
        'GETKEYSINSLOT',
        String(slot),
        '100',
      ])) as string[]
      if (left.length === 0) break
      for (const key of left) await migrate(key)
    }
    const to = performance.now()
    const assign = (node: RedisProcess) =>
      this.client(node).sendCommand(['CLUSTER', 'SETSLOT', String(slot), 'NODE', targetId])
    await assign(target)
    await assign(source)
    for (const node of this.clients.keys()) if (node !== source && node !== target) await assign(node)
    return { movedKeys, migrating: { from, to } }
  }

  /** A client of `node`, for commands of the test's own (filling a slot with keys, PUBSUB SHARDNUMSUB). */
  client(node: RedisProcess): AdminClient {
    const client = this.clients.get(node)
    if (!client) throw new Error(`no client for ${node.address}`)
    return client
  }

  close(): void {
    for (const client of this.clients.values()) client.destroy()
  }

  private id(node: RedisProcess): string {
    const id = this.ids.get(node)
    if (!id) throw new Error(`no id for ${node.address}`)
    return id
  }

  private nodeById(id: string): RedisProcess {
    for (const [node, known] of this.ids) if (known === id) return node
    throw new Error(`no node has id ${id}`)
  }

  private anyNode(): RedisProcess {
    const [node] = this.clients.keys()
    if (!node) throw new Error('a cluster without nodes')
    return node
  }
}
