import { afterAll, describe, expect, it } from 'vitest'
import { keys } from '../../src/redis/keys.js'
import { buildTestApp } from '../support/app.js'
import { bufferName, tokenHeaders } from '../support/buffers.js'
import { redisCli } from '../support/redis-cluster.js'
import { RedisProcess, replicaOnline } from '../support/redis-process.js'
import { sample, scrape } from '../support/scrape.js'

/**
 * REDIS_APPEND_WAIT_REPLICAS on a real primary and replica: an append is a 201 only once the replica
 * holds it (WAIT after the append, on its connection), and a fast 503 `replication_timeout` when the
 * replica cannot confirm it in time (paused, or gone), never a 500 or a hang.
 */

// A healthy replica confirms within a millisecond or two on loopback, but this shared machine can stall
// a process for hundreds: the timeout must be far above that, or a 201 becomes a replication_timeout.
const WAIT_TIMEOUT_MS = 1000
const COMMAND_TIMEOUT_MS = 3000

const primary = await RedisProcess.start(['appendonly no'])
const replica = await RedisProcess.start(['appendonly no', `replicaof 127.0.0.1 ${primary.port}`])
afterAll(async () => {
  replica.resume()
  await Promise.all([replica.stop(), primary.stop()])
})

await replicaOnline(primary.port)

const { app, redis } = await buildTestApp(`redis://127.0.0.1:${primary.port}`, {
  REDIS_APPEND_WAIT_REPLICAS: '1',
  REDIS_APPEND_WAIT_TIMEOUT_MS: String(WAIT_TIMEOUT_MS),
  REDIS_COMMAND_TIMEOUT_MS: String(COMMAND_TIMEOUT_MS),
})

async function append(name: string, n: number) {
  const started = performance.now()
  const res = await app.request(`/buffers/${name}/items`, {
    method: 'POST',
    headers: { ...tokenHeaders, 'Content-Type': 'application/json' },
    body: JSON.stringify({ data: n }),
  })
  return {
    res,
    body: (await res.json()) as { ids?: string[]; error?: { code: string; message: string } },
    ms: performance.now() - started,
  }
}

/** The ids of a buffer's items as the server on `port` holds them (XRANGE's ids, without the fields). */
async function idsOn(port: number, name: string): Promise<string[]> {
  const reply = await redisCli(['-p', String(port), '--json', 'xrange', keys.bufferItems(name), '-', '+'])
  return (JSON.parse(reply) as [string, unknown][]).map(([id]) => id)
}

/** How many clients the primary has (redis-cli's own and the replica's included). */
async function clientCount(): Promise<number> {
  return (await redisCli(['-p', String(primary.port), 'client', 'list'])).split('\n').filter(Boolean).length
}

describe('appends that wait for a replica (REDIS_APPEND_WAIT_REPLICAS=1)', () => {
  it('open a connection of their own on the first one, not before', async () => {
    const before = await clientCount()
    expect((await append(bufferName('first'), 1)).res.status).toBe(201)
    expect(await clientCount()).toBe(before + 1)
    expect((await append(bufferName('second'), 1)).res.status).toBe(201)
    expect(await clientCount()).toBe(before + 1)
  })

  it('answer 201 once the replica holds the items', async () => {
    const name = bufferName('wait')
    for (const n of [1, 2, 3]) {
      const { res, body } = await append(name, n)
      expect(res.status).toBe(201)
      // No wait for replication here: the 201 came after the replica's acknowledgement.
      expect(await idsOn(replica.port, name)).toContain(body.ids?.[0])
    }
  })

  it('answer a bounded 503 replication_timeout while the replica is paused; the primary has the item', async () => {
    const name = bufferName('paused')
    replica.pause()
    try {
      const appended = append(name, 1)
      // WAIT blocks only the connection of waiting writes: the command connection answers meanwhile.
      await new Promise((resolve) => setTimeout(resolve, 50))
      await redis.ping()
      const pinged = performance.now()
      const { res, body, ms } = await appended
      expect(pinged).toBeLessThan(performance.now() - 100)
      expect(res.status).toBe(503)
      expect(res.headers.get('Retry-After')).toBe('1')
      expect(body.error?.code).toBe('replication_timeout')
      expect(body.error?.message).toMatch(
        /stored on the Redis primary.*0 of 1 replicas.*may store them twice/,
      )
      expect(ms).toBeGreaterThanOrEqual(WAIT_TIMEOUT_MS - 50)
      expect(ms).toBeLessThan(COMMAND_TIMEOUT_MS + 500)
      expect(await idsOn(primary.port, name)).toHaveLength(1)
    } finally {
      replica.resume()
    }
    // Counted with the other refused appends, by code.
    expect(
      sample(await scrape(app), 'hrs_buffer_append_failures_total', { code: 'replication_timeout' }),
    ).toBe(1)
    // Back: the replica catches up, and appends are confirmed again.
    expect((await append(name, 2)).res.status).toBe(201)
    expect(await idsOn(replica.port, name)).toHaveLength(2)
  })

  it('answer a bounded 503 replication_timeout with no replica at all', async () => {
    await redisCli(['-p', String(replica.port), 'replicaof', 'no', 'one'])
    try {
      const { res, body, ms } = await append(bufferName('alone'), 1)
      expect(res.status).toBe(503)
      expect(body.error?.code).toBe('replication_timeout')
      expect(ms).toBeLessThan(COMMAND_TIMEOUT_MS + 500)
    } finally {
      await redisCli(['-p', String(replica.port), 'replicaof', '127.0.0.1', String(primary.port)])
    }
    await replicaOnline(primary.port)
    expect((await append(bufferName('rejoined'), 1)).res.status).toBe(201)
  })
})
