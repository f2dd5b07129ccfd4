import { afterAll, describe, expect, it } from 'vitest'
import { buildAppOn } from '../support/app.js'
import { appendNumbers, bufferName, datas, openEvents, tokenHeaders } from '../support/buffers.js'
import { SENTINEL_MASTER_NAME, TestSentinelSet } from '../support/redis-sentinel.js'

/**
 * The service on a real Sentinel set (REDIS_MODE=sentinel), in process: it serves through the master
 * the sentinels name, and follows a failover (SIGKILL of the primary) to the promoted replica.
 */

const COMMAND_TIMEOUT_MS = 1000
const sentinels = await TestSentinelSet.start()
afterAll(() => sentinels.stop())
await sentinels.waitForQuorum()

const { app, redis, connection } = await buildAppOn(`redis://${SENTINEL_MASTER_NAME}`, {
  REDIS_MODE: 'sentinel',
  REDIS_SENTINELS: sentinels.sentinelAddresses,
  REDIS_SENTINEL_NAME: SENTINEL_MASTER_NAME,
  REDIS_COMMAND_TIMEOUT_MS: String(COMMAND_TIMEOUT_MS),
  READY_TIMEOUT_MS: '500',
  RATE_LIMIT_APPENDS_PER_MINUTE: '1000000',
})

const readiness = async () => (await app.request('/readyz')).status

/** One append's outcome: its status, and how long it took. */
async function timedAppend(name: string, n: number): Promise<{ status: number; ms: number }> {
  const started = performance.now()
  const res = await app.request(`/buffers/${name}/items`, {
    method: 'POST',
    headers: { ...tokenHeaders, 'Content-Type': 'application/json' },
    body: JSON.stringify({ data: n }),
  })
  await res.arrayBuffer()
  return { status: res.status, ms: performance.now() - started }
}

describe('on a Sentinel-managed primary', () => {
  it('serves through the master the sentinels name; ready with role master', async () => {
    expect(connection.topology.mode).toBe('sentinel')
    expect(await redis.ping()).toBe('PONG')
    expect(await redis.role()).toBe('master')
    expect(await readiness()).toBe(200)
    const name = bufferName('sentinel')
    const [id] = await appendNumbers(app, name, [1])
    const page = await app.request(`/buffers/${name}/items`, { headers: tokenHeaders })
    expect(((await page.json()) as { items: { id: string }[] }).items.map((item) => item.id)).toEqual([id])
  })

  it('follows a failover: appends meanwhile get 201 or a bounded 503, readiness 503 then 200, live delivery resumes', async () => {
    const name = bufferName('failover')
    const events = await openEvents(app, name)
    await appendNumbers(app, name, [1])
    expect(datas(await events.events(1))).toEqual([1])

    const promoted = sentinels.replica.address
    await sentinels.primary.kill()
    const outcomes: { status: number; ms: number }[] = []
    let sawNotReady = false
    let n = 2
    const deadline = performance.now() + 15_000
    // Appends and readiness until the replica is promoted and both succeed on it.
    for (;;) {
      const [append, ready] = await Promise.all([timedAppend(name, n++), readiness()])
      outcomes.push(append)
      if (ready === 503) sawNotReady = true
      if (sawNotReady && ready === 200 && append.status === 201) break
      if (performance.now() > deadline) throw new Error(`no failover: ${JSON.stringify(outcomes.slice(-5))}`)
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    expect(await sentinels.masterAddress()).toBe(promoted)
    expect(await redis.role()).toBe('master')
    // Never a 500, never a hang: every append answered within the command timeout (and some slack).
    expect(new Set(outcomes.map(({ status }) => status))).toEqual(new Set([201, 503]))
    expect(Math.max(...outcomes.map(({ ms }) => ms))).toBeLessThan(COMMAND_TIMEOUT_MS + 500)

    // The live reader followed the master too: an item appended now reaches the open stream, after
    // every item the new master holds (a 503 is "no answer in time", not "not written": an append
    // node-redis held while it found the new master may have been written there after its 503).
    const [last] = await appendNumbers(app, name, [1000])
    const delivered: (string | undefined)[] = []
    while (delivered.at(-1) !== last) {
      const [event] = await events.events(1, 10_000)
      delivered.push(event?.id)
    }
    expect(delivered.length).toBeGreaterThanOrEqual(
      outcomes.filter(({ status }) => status === 201).length + 1,
    )
    await events.close()
  }, 30_000)
})
