import { afterAll, describe, expect, it } from 'vitest'
import { keys } from '../../src/redis/keys.js'
import { buildAppOn } from '../support/app.js'
import { bufferName } from '../support/buffers.js'
import { keySlot } from '../support/key-slot.js'
import { redisCli, TestRedisCluster } from '../support/redis-cluster.js'

/**
 * A cluster topology's wait connection (an append and its WAIT, REDIS_APPEND_WAIT_REPLICAS) sends each
 * pipeline to the master of its key's slot, and follows that slot when it has moved since node-redis
 * learnt the slots: node-redis follows MOVED for single commands only.
 */

const cluster = await TestRedisCluster.start()
afterAll(() => cluster.stop())

const { connection } = await buildAppOn(cluster.url, {
  REDIS_MODE: 'cluster',
  REDIS_COMMAND_TIMEOUT_MS: '1000',
})
const { topology } = connection

const cli = (port: number, ...args: (string | number)[]) =>
  redisCli(['-p', String(port), ...args.map(String)])

/** Moves `slot`, with its keys, from the node on `from` to the node on `to`, and tells every node. */
async function moveSlot(slot: number, from: number, to: number): Promise<void> {
  const [fromId, toId] = await Promise.all([cli(from, 'cluster', 'myid'), cli(to, 'cluster', 'myid')])
  await cli(to, 'cluster', 'setslot', slot, 'importing', fromId.trim())
  await cli(from, 'cluster', 'setslot', slot, 'migrating', toId.trim())
  const keysThere = (await cli(from, 'cluster', 'getkeysinslot', slot, 100)).split('\n').filter(Boolean)
  if (keysThere.length > 0) await cli(from, 'migrate', '127.0.0.1', to, '', 0, 5000, 'keys', ...keysThere)
  for (const node of cluster.nodes) await cli(node.port, 'cluster', 'setslot', slot, 'node', toId.trim())
}

describe('a pipeline on a cluster', () => {
  it('runs on the master of its key, and follows the key when its slot has moved', async () => {
    const key = keys.bufferItems(bufferName('moved'))
    const write = (value: string) =>
      topology.waitConnection.pipeline(key, [
        ['SET', key, value],
        ['WAIT', '0', '100'],
      ])
    expect(await write('before')).toEqual(['OK', 0])

    const slot = keySlot(key)
    const owners = await Promise.all(
      cluster.nodes.map(async (node) => Number(await cli(node.port, 'cluster', 'countkeysinslot', slot))),
    )
    const from = cluster.nodes[owners.indexOf(1)]
    const to = cluster.nodes.find((node) => node !== from)
    if (!from || !to) throw new Error(`no owner of slot ${slot}: ${owners}`)
    await moveSlot(slot, from.port, to.port)

    // node-redis still routes the slot to `from`, which answers MOVED: followed, and written on `to`.
    expect(await write('after')).toEqual(['OK', 0])
    expect((await cli(to.port, 'get', key)).trim()).toBe('after')
  })
})
