import { createClient } from 'redis'
import { keys } from '../../src/redis/keys.js'
import { keySlot } from '../../tests/support/key-slot.js'

/** One row of CLUSTER SLOTS: a slot range and its master (host, port, id, ...), then any replicas. */
type SlotRange = [start: number, end: number, master: [host: string, port: number, ...rest: unknown[]]]

/**
 * How many of the buffers `names` each master of the Redis Cluster at `nodeUrl` serves (by CLUSTER SLOTS
 * and the slot of each buffer's stream key), keyed by the master's `host:port`: the fan-out benchmark's
 * check that its buffers sit on every shard.
 */
export async function buffersPerMaster(
  nodeUrl: string,
  names: readonly string[],
): Promise<Map<string, number>> {
  const client = createClient({ url: nodeUrl })
  client.on('error', () => {})
  await client.connect()
  try {
    const ranges = (await client.sendCommand(['CLUSTER', 'SLOTS'])) as SlotRange[]
    const counts = new Map(ranges.map(([, , [host, port]]) => [`${host}:${port}`, 0]))
    for (const name of names) {
      const slot = keySlot(keys.bufferItems(name))
      const range = ranges.find(([start, end]) => slot >= start && slot <= end)
      if (!range) throw new Error(`no master serves slot ${slot} (buffer ${name})`)
      const master = `${range[2][0]}:${range[2][1]}`
      counts.set(master, (counts.get(master) ?? 0) + 1)
    }
    return counts
  } finally {
    await client.close()
  }
}
