import { describe, expect, it } from 'vitest'
import { buildAppOn } from '../support/app.js'
import { appendNumbers, bufferName, tokenHeaders } from '../support/buffers.js'
import { buildAppOnTopology, fileCluster, masterOf, SUITE_TOPOLOGIES } from '../support/topology.js'

/**
 * The service on a real three-master Redis Cluster (REDIS_MODE=cluster), in process: its routes (on the
 * standalone Redis too, the same suite), and a readiness that covers every master.
 */

const cluster = await fileCluster()

const { app, redis, connection } = await buildAppOn(cluster.url, {
  REDIS_MODE: 'cluster',
  REDIS_COMMAND_TIMEOUT_MS: '1000',
  READY_TIMEOUT_MS: '500',
})

interface Health {
  status: string
  output?: string
}

async function readiness(): Promise<{ status: number; body: Health }> {
  const res = await app.request('/readyz')
  return { status: res.status, body: (await res.json()) as Health }
}

/** Polls readiness until it answers `status`; resolves with the milliseconds it took and the body. */
async function readinessBecomes(status: number, timeoutMs: number): Promise<{ ms: number; body: Health }> {
  const started = performance.now()
  for (;;) {
    const seen = await readiness()
    if (seen.status === status) return { ms: performance.now() - started, body: seen.body }
    if (performance.now() - started > timeoutMs) {
      throw new Error(`readiness still ${seen.status} after ${timeoutMs} ms: ${JSON.stringify(seen.body)}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

describe('on a Redis Cluster', () => {
  it('connects through one seed and routes keys to all three masters', async () => {
    expect(connection.topology.mode).toBe('cluster')
    expect(await redis.ping()).toBe('PONG')
    expect(await redis.role()).toBe('master')
    // Keys of every master: node-redis routes each by its slot.
    const written = Array.from({ length: 30 }, (_, i) => `hrs:test:{k${i}}`)
    const commands = connection.topology.commands
    for (const key of written) await commands.set(key, key, { EX: 60 })
    for (const key of written) expect(await redis.getex(key, { ex: 60 })).toBe(key)
    const owners = new Set(written.map((key) => masterOf(connection, key)))
    expect(owners.size).toBe(3)
  })

  it('is ready only while every master answers: one killed is a 503 at once, restarted a 200 again', async () => {
    expect((await readiness()).status).toBe(200)
    const [, victim] = cluster.nodes
    if (!victim) throw new Error('the cluster has no second node')
    await victim.kill()
    const down = await readinessBecomes(503, 3000)
    // No PING from that master: readiness fails without waiting for the cluster to notice.
    expect(down.ms).toBeLessThan(1000)
    expect(down.body.output).toMatch(/redis unreachable|cluster is not ok/)
    // Once the other nodes notice (cluster-node-timeout), they say so too.
    await cluster.waitForState('fail')
    expect((await readiness()).body.output).toMatch(/redis unreachable|cluster is not ok/)

    await victim.restart()
    // The master reconnects (backoff up to 1 s) and the cluster is ok again (a rejoining master waits 2 s).
    await readinessBecomes(200, 8000)
  }, 20_000)
})

describe.each(SUITE_TOPOLOGIES)('the routes on %s', (topology) => {
  it('serve a session, an append and its read back', async () => {
    const { app, connection } = await buildAppOnTopology(topology)
    expect(connection.topology.mode).toBe(topology)
    const created = await app.request('/sessions', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ data: { user: 'ada' } }),
    })
    expect(created.status).toBe(201)
    const cookie = /(sid=[^;]*)/.exec(created.headers.get('set-cookie') ?? '')?.[1] ?? ''
    const current = await app.request('/sessions/current', { headers: { Cookie: cookie } })
    expect(current.status).toBe(200)
    expect(((await current.json()) as { data: unknown }).data).toEqual({ user: 'ada' })

    const name = bufferName(topology)
    const [id] = await appendNumbers(app, name, [42])
    const page = await app.request(`/buffers/${name}/items`, { headers: tokenHeaders })
    expect(page.status).toBe(200)
    expect(((await page.json()) as { items: { id: string; data: unknown }[] }).items).toEqual([
      expect.objectContaining({ id, data: 42 }),
    ])
  })
})
