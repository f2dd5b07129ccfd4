import { createClient } from 'redis'
import { afterEach, describe, expect, it } from 'vitest'
import { EXIT_CODES } from '../../src/process/exit-codes.js'
import { rawTestEnv } from '../support/env.js'
import { freePort, SilentTcpServer } from '../support/net.js'
import { TestRedisServer } from '../support/redis-server.js'
import { EXIT_AFTER_BUDGET_SLACK_MS, spawnsServices, TIME_BOUNDED } from '../support/service-process.js'

/** The startup contract, tested on the real entry point (`node dist/main.js`) as a child process. */

const BUDGET_MS = 1000

/** Busy-waits for ARGV[1] ms inside Redis. */
const SPIN_SCRIPT = `
local function now() local t = redis.call('TIME') return t[1] * 1000 + math.floor(t[2] / 1000) end
local stop = now() + tonumber(ARGV[1])
while now() < stop do end
return 1`

const start = spawnsServices()
const cleanups: (() => Promise<unknown>)[] = []
afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((cleanup) => cleanup()))
})

const withoutVar = (env: Record<string, string>, name: string) =>
  Object.fromEntries(Object.entries(env).filter(([key]) => key !== name))

describe('invalid configuration: exit 78 within 1 s, before any connection', TIME_BOUNDED, () => {
  it('missing REDIS_URL names it and says how to start a local Redis', async () => {
    const service = start(withoutVar(rawTestEnv('unused'), 'REDIS_URL'))
    const exit = await service.exited
    expect(exit.code).toBe(EXIT_CODES.config)
    expect(exit.ownMs).toBeLessThan(1000)
    expect(service.stderr).toMatch(/REDIS_URL is required/)
    expect(service.stderr).toMatch(/npm run local/)
  })

  it('an invalid REDIS_URL is rejected', async () => {
    const service = start(rawTestEnv('http://127.0.0.1:6379'))
    expect((await service.exited).code).toBe(EXIT_CODES.config)
    expect(service.stderr).toMatch(/REDIS_URL must be a redis:\/\/ or rediss:\/\/ URL/)
  })

  it('a short SESSION_SECRET is named, its value never printed, and Redis is never contacted', async () => {
    const redis = await SilentTcpServer.start()
    cleanups.push(() => redis.close())
    const secret = 'short-but-secret-value'
    const service = start(
      rawTestEnv(`redis://:redis-password@127.0.0.1:${redis.port}`, { SESSION_SECRET: secret, PORT: 'x' }),
    )
    const exit = await service.exited
    expect(exit.code).toBe(EXIT_CODES.config)
    expect(exit.ownMs).toBeLessThan(1000)
    expect(service.stderr).toMatch(/SESSION_SECRET each comma-separated value must be at least 32 characters/)
    expect(service.stderr).toMatch(/PORT must be a whole number/)
    expect(service.stderr + service.stdout).not.toContain(secret)
    expect(service.stderr + service.stdout).not.toContain('redis-password')
    expect(redis.connections).toBe(0)
  })
})

describe('Redis unreachable at startup: retry for the budget, then exit 69', TIME_BOUNDED, () => {
  it('a closed port: exit 69 after the budget, host:port with the password redacted, no stack trace', async () => {
    const port = await freePort()
    const service = start(
      rawTestEnv(`redis://:hunter2-password@127.0.0.1:${port}`, {
        REDIS_CONNECT_TIMEOUT_MS: String(BUDGET_MS),
      }),
    )
    const exit = await service.exited
    expect(exit.code).toBe(EXIT_CODES.unavailable)
    expect(exit.elapsedMs).toBeGreaterThanOrEqual(BUDGET_MS)
    expect(exit.ownMs).toBeLessThan(BUDGET_MS + EXIT_AFTER_BUDGET_SLACK_MS)
    expect(service.stderr).toContain(`redis://:***@127.0.0.1:${port}`)
    expect(service.stderr).toMatch(/last reason: .*ECONNREFUSED/)
    expect(service.stderr + service.stdout).not.toContain('hunter2-password')
    expect(service.stderr).not.toMatch(/^\s+at /m)
  })

  it('a server that accepts but never answers: exit 69 soon after the budget', async () => {
    const silent = await SilentTcpServer.start()
    cleanups.push(() => silent.close())
    const service = start(
      rawTestEnv(`redis://127.0.0.1:${silent.port}`, { REDIS_CONNECT_TIMEOUT_MS: String(BUDGET_MS) }),
    )
    const exit = await service.exited
    expect(exit.code).toBe(EXIT_CODES.unavailable)
    expect(exit.ownMs).toBeLessThan(BUDGET_MS + EXIT_AFTER_BUDGET_SLACK_MS)
    expect(silent.connections).toBeGreaterThan(0)
    expect(service.stderr).toMatch(/last reason: /)
  })

  it('a Redis that refuses the password: exit 69 at once with the reason, not after the budget', async () => {
    const redis = await TestRedisServer.start(['--requirepass', 'the-right-password'])
    cleanups.push(() => redis.stop())
    const url = (await redis.url()).replace('redis://', 'redis://:the-wrong-password@')
    const service = start(rawTestEnv(url, { REDIS_CONNECT_TIMEOUT_MS: '30000' }))
    const exit = await service.exited
    expect(exit.code).toBe(EXIT_CODES.unavailable)
    expect(exit.ownMs).toBeLessThan(10_000)
    expect(service.stderr).toMatch(/refused the connection/)
    expect(service.stderr).toMatch(/last reason: .*(WRONGPASS|invalid username-password)/)
    expect(service.stderr).not.toContain('the-wrong-password')
  })

  it('a database index the server lacks: exit 69 at once, naming it', async () => {
    const redis = await TestRedisServer.start()
    cleanups.push(() => redis.stop())
    const service = start(rawTestEnv(`${await redis.url()}/99`, { REDIS_CONNECT_TIMEOUT_MS: '30000' }))
    const exit = await service.exited
    expect(exit.code).toBe(EXIT_CODES.unavailable)
    expect(exit.ownMs).toBeLessThan(10_000)
    expect(service.stderr).toMatch(/last reason: .*DB index is out of range/)
  })
})

describe('Redis reachable', () => {
  it('listens and is ready; SIGTERM exits 0', async () => {
    const redis = await TestRedisServer.start()
    cleanups.push(() => redis.stop())
    const service = start(rawTestEnv(await redis.url(), { PORT: '0', HOST: '127.0.0.1' }))
    const base = await service.listening()
    const ready = await fetch(`${base}/readyz`)
    expect(ready.status).toBe(200)
    expect(await ready.json()).toMatchObject({ status: 'pass' })
    service.kill('SIGTERM')
    expect((await service.exited).code).toBe(EXIT_CODES.ok)
  })

  it('a Redis busy with a script (BUSY replies) is waited for within the budget', async () => {
    const redis = await TestRedisServer.start(['--busy-reply-threshold', '50'])
    cleanups.push(() => redis.stop())
    const busy = createClient({ url: await redis.url() })
    busy.on('error', () => {})
    await busy.connect()
    // Spins for 1.5 s; after 50 ms every other client gets "BUSY Redis is busy running a script".
    const spinning = busy.eval(SPIN_SCRIPT, { arguments: ['1500'] })
    cleanups.push(async () => {
      await spinning
      busy.destroy()
    })
    await new Promise((resolve) => setTimeout(resolve, 200))
    const service = start(
      rawTestEnv(await redis.url(), { PORT: '0', HOST: '127.0.0.1', REDIS_CONNECT_TIMEOUT_MS: '5000' }),
    )
    const base = await service.listening()
    expect((await fetch(`${base}/readyz`)).status).toBe(200)
  })

  it('a Redis that starts a moment after the service is fine', async () => {
    const port = await freePort()
    const service = start(
      rawTestEnv(`redis://127.0.0.1:${port}`, {
        PORT: '0',
        HOST: '127.0.0.1',
        REDIS_CONNECT_TIMEOUT_MS: '5000',
      }),
    )
    await new Promise((resolve) => setTimeout(resolve, 700))
    const redis = await TestRedisServer.start([], port)
    cleanups.push(() => redis.stop())
    const base = await service.listening()
    expect((await fetch(`${base}/readyz`)).status).toBe(200)
  })
})
