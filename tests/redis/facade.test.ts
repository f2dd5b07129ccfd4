import { randomUUID } from 'node:crypto'
import { ErrorReply } from 'redis'
import { afterAll, describe, expect, inject, it } from 'vitest'
import { RedisUnavailableError } from '../../src/errors.js'
import { connectWithinBudget, createNodeRedisClient } from '../../src/redis/connection.js'
import { createRedisFacade } from '../../src/redis/facade.js'
import { buildTestApp } from '../support/app.js'

const { redis, client } = await buildTestApp(inject('redisUrl'))
const key = () => `test:facade:${randomUUID()}`

describe('Redis facade (Upstash-compatible shapes over node-redis)', () => {
  it('set stores strings as they are and other values as JSON; get parses JSON back', async () => {
    const [a, b, c] = [key(), key(), key()]
    await redis.set(a, 'plain text')
    await redis.set(b, { n: 1, list: [true, null] })
    await redis.set(c, 42)
    expect(await client.get(a)).toBe('plain text')
    expect(await client.get(b)).toBe('{"n":1,"list":[true,null]}')
    expect(await redis.get(a)).toBe('plain text')
    expect(await redis.get(b)).toEqual({ n: 1, list: [true, null] })
    expect(await redis.get(c)).toBe(42)
    expect(await redis.get(key())).toBeNull()
  })

  it('set honours ex, nx and xx', async () => {
    const k = key()
    expect(await redis.set(k, 'v', { xx: true })).toBeNull()
    expect(await redis.set(k, 'v', { nx: true, ex: 100 })).toBe('OK')
    expect(await redis.set(k, 'w', { nx: true })).toBeNull()
    expect(await client.ttl(k)).toBeGreaterThan(95)
    expect(await redis.set(k, 'w', { xx: true })).toBe('OK')
    expect(await redis.get(k)).toBe('w')
  })

  it('getex reads and sets the expiry in one command, and creates nothing for a missing key', async () => {
    const [k, missing] = [key(), key()]
    await redis.set(k, { n: 1 }, { ex: 10 })
    expect(await redis.getex(k, { ex: 500 })).toEqual({ n: 1 })
    expect(await client.ttl(k)).toBeGreaterThan(495)
    expect(await redis.getex(missing, { ex: 500 })).toBeNull()
    expect(await client.exists(missing)).toBe(0)
  })

  it('del removes several keys and counts them', async () => {
    const [a, b] = [key(), key()]
    await redis.set(a, 1)
    await redis.set(b, 2)
    expect(await redis.del(a, b, key())).toBe(2)
  })

  it('createScript loads a script Redis has never seen (NOSCRIPT, then EVAL) and reuses it by SHA', async () => {
    const source = `-- ${randomUUID()}\nreturn {KEYS[1], ARGV[1]}`
    const script = redis.createScript<string[]>(source)
    expect(redis.createScript(source)).toBe(script)
    expect(await client.scriptExists(script.sha1)).toEqual([0])
    expect(await script.exec(['k'], ['v'])).toEqual(['k', 'v'])
    expect(await client.scriptExists(script.sha1)).toEqual([1])
    expect(await script.exec(['k2'], ['v2'])).toEqual(['k2', 'v2'])
  })

  it("passes Redis's own error replies through: they are answers, not outages", async () => {
    const k = key()
    await client.hSet(k, 'f', 'v')
    const error = await redis.get(k).catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(ErrorReply)
    expect(String(error)).toMatch(/WRONGTYPE/)
  })
})

describe('Redis facade when Redis cannot answer', () => {
  const closed = createNodeRedisClient({ url: inject('redisUrl'), commandTimeoutMs: 2000, onError: () => {} })
  afterAll(() => closed.destroy())

  it('rejects at once with RedisUnavailableError instead of queueing', async () => {
    await connectWithinBudget(closed, inject('redisUrl'), 2000)
    closed.destroy()
    const started = performance.now()
    const error = await createRedisFacade(closed, { commandTimeoutMs: 2000 })
      .get('anything')
      .catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(RedisUnavailableError)
    expect((error as RedisUnavailableError).status).toBe(503)
    // Well under the 2 s command timeout: it was not queued.
    expect(performance.now() - started).toBeLessThan(1000)
  })
})
