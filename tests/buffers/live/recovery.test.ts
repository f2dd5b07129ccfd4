import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, describe, expect, it } from 'vitest'
import { buildTestApp } from '../../support/app.js'
import { appendNumbers, bufferName, datas, openEvents } from '../../support/buffers.js'
import { TestRedisServer } from '../../support/redis-server.js'

/**
 * How long readiness takes to come back after a Redis restart while a subscriber keeps the live reader
 * busy. Both connections (commands, and the reader's) reconnect on node-redis's backoff, capped at 1 s;
 * the reader must then read again at once, not after a backoff of its own on top, and its first read
 * must not be a 2 s block that keeps readiness failing until it ends. Measured from the moment Redis
 * answers again (the restart resolves once redis-server is ready) to the first /readyz 200.
 */

// Our own Redis: it is stopped and restarted.
const server = await TestRedisServer.start()
afterAll(() => server.stop())

/** Outages of different lengths, so the restart meets the backoff schedules at different points. */
const OUTAGES_MS = [200, 700, 1600, 2600]
/** The target is 1 s; the margin keeps a loaded machine from failing the test. */
const RECOVERY_LIMIT_MS = 1500

describe('recovery after a Redis restart, with a subscriber open', async () => {
  const { app } = await buildTestApp(await server.url(), {
    SSE_HEARTBEAT_MS: '200',
    REDIS_COMMAND_TIMEOUT_MS: '500',
    READY_TIMEOUT_MS: '500',
  })
  const readiness = async () => (await app.request('/readyz')).status

  it(`readiness is back within ${RECOVERY_LIMIT_MS} ms of Redis answering`, async () => {
    const name = bufferName()
    await appendNumbers(app, name, [0])
    const stream = await openEvents(app, name)
    await appendNumbers(app, name, [1])
    expect(datas(await stream.events(1))).toEqual([1])
    expect(await readiness()).toBe(200)

    const recoveries: number[] = []
    for (const outageMs of OUTAGES_MS) {
      await server.stop()
      await expect.poll(readiness, { timeout: 3000 }).toBe(503)
      await sleep(outageMs)
      await server.restart()
      const answering = performance.now()
      while ((await readiness()) !== 200 && performance.now() - answering < 10_000) await sleep(10)
      recoveries.push(Math.round(performance.now() - answering))
    }
    console.info(
      `readiness back after a Redis restart, in ms (outages ${OUTAGES_MS.join(', ')} ms): ${recoveries.join(', ')}`,
    )
    for (const ms of recoveries) expect(ms).toBeLessThan(RECOVERY_LIMIT_MS)

    // The stream lived through it all and still delivers (the restarted Redis kept no data: a new item 2).
    await appendNumbers(app, name, [2])
    expect(datas(await stream.events(1, 5000))).toEqual([2])
    await stream.close()
  }, 60_000)
})
