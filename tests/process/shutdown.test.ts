import { createClient } from 'redis'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { rawTestEnv } from '../support/env.js'
import { TestRedisServer } from '../support/redis-server.js'
import { ServiceProcess } from '../support/service-process.js'

/**
 * Graceful shutdown on the real entry point. Slow requests are made real by DEBUG SLEEP, which blocks
 * the dedicated Redis: every request that needs Redis is then genuinely in flight.
 */

let redis: TestRedisServer
let redisUrl: string
const running: ServiceProcess[] = []

beforeAll(async () => {
  redis = await TestRedisServer.start(['--enable-debug-command', 'yes'])
  redisUrl = await redis.url()
})
afterAll(() => redis.stop())
afterEach(async () => {
  await Promise.all(running.splice(0).map((service) => service.stop()))
})

async function startService(overrides: Record<string, string> = {}) {
  const service = ServiceProcess.spawn(
    rawTestEnv(redisUrl, { PORT: '0', HOST: '127.0.0.1', REDIS_COMMAND_TIMEOUT_MS: '5000', ...overrides }),
  )
  running.push(service)
  return { service, base: await service.listening() }
}

/** Blocks the Redis server for `seconds`, from a connection of its own. */
async function blockRedis(seconds: number): Promise<() => Promise<void>> {
  const client = createClient({ url: redisUrl })
  client.on('error', () => {})
  await client.connect()
  const sleeping = client.sendCommand(['DEBUG', 'SLEEP', String(seconds)])
  return async () => {
    await sleeping
    client.destroy()
  }
}

const createSession = (base: string) => fetch(`${base}/sessions`, { method: 'POST' })

describe('SIGTERM', () => {
  it('lets in-flight requests finish with their full answer, then exits 0', async () => {
    const { service, base } = await startService({ SHUTDOWN_DELAY_MS: '0' })
    const unblocked = await blockRedis(1)
    const inFlight = Array.from({ length: 5 }, () => createSession(base))
    await new Promise((resolve) => setTimeout(resolve, 200))
    service.kill('SIGTERM')
    const responses = await Promise.all(inFlight)
    for (const res of responses) {
      expect(res.status).toBe(201)
      expect(await res.json()).toMatchObject({ id: expect.any(String), data: {} })
    }
    expect((await service.exited).code).toBe(0)
    await unblocked()
  })

  it('fails readiness at once but keeps serving for SHUTDOWN_DELAY_MS', async () => {
    const { service, base } = await startService({ SHUTDOWN_DELAY_MS: '1000' })
    service.kill('SIGTERM')
    await new Promise((resolve) => setTimeout(resolve, 100))
    const ready = await fetch(`${base}/readyz`)
    expect(ready.status).toBe(503)
    expect(await ready.json()).toMatchObject({ status: 'fail', output: 'shutting down' })
    expect((await fetch(`${base}/healthz`)).status).toBe(200)
    expect((await createSession(base)).status).toBe(201)
    const exit = await service.exited
    expect(exit.code).toBe(0)
    expect(service.stdout).toMatch(/"msg":"shutdown: complete"/)
  })

  it('exits 1 when SHUTDOWN_TIMEOUT_MS passes before requests finish', async () => {
    const { service, base } = await startService({ SHUTDOWN_DELAY_MS: '0', SHUTDOWN_TIMEOUT_MS: '300' })
    const unblocked = await blockRedis(2)
    const stuck = createSession(base).catch(() => 'connection closed')
    await new Promise((resolve) => setTimeout(resolve, 200))
    service.kill('SIGTERM')
    const exit = await service.exited
    expect(exit.code).toBe(1)
    expect(service.stdout).toMatch(/shutdown timed out/)
    await stuck
    await unblocked()
  })

  it('a second signal forces an immediate exit with code 1', async () => {
    const { service } = await startService({ SHUTDOWN_DELAY_MS: '10000' })
    service.kill('SIGTERM')
    await new Promise((resolve) => setTimeout(resolve, 200))
    const signalledAt = performance.now()
    service.kill('SIGINT')
    const exit = await service.exited
    expect(exit.code).toBe(1)
    expect(performance.now() - signalledAt).toBeLessThan(2000)
  })
})
