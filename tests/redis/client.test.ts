import { createHash, randomUUID } from 'node:crypto'
import { ErrorReply } from 'redis'
import { describe, expect, inject, it } from 'vitest'
import { connectRedis } from '../../src/redis/connection.js'
import { RedisUnavailableError } from '../../src/redis/failures.js'
import { buildTestApp } from '../support/app.js'
import { testEnv } from '../support/env.js'

const { redis, client } = await buildTestApp(inject('redisUrl'))
const key = () => `test:facade:${randomUUID()}`

describe('Redis client (Upstash-compatible shapes over node-redis)', () => {
  it('getex hands back the stored text as it is: no JSON is parsed (Upstash without automatic deserialisation)', async () => {
    const [a, b] = [key(), key()]
    await client.set(a, '{"n":1}')
    await client.set(b, '42')
    expect(await redis.getex(a, { ex: 60 })).toBe('{"n":1}')
    expect(await redis.getex(b, { ex: 60 })).toBe('42')
  })

  it('getex reads and sets the expiry in one command, and creates nothing for a missing key', async () => {
    const [k, missing] = [key(), key()]
    await client.set(k, 'v', { expiration: { type: 'EX', value: 10 } })
    expect(await redis.getex(k, { ex: 500 })).toBe('v')
    expect(await client.ttl(k)).toBeGreaterThan(495)
    expect(await redis.getex(missing, { ex: 500 })).toBeNull()
    expect(await client.exists(missing)).toBe(0)
  })

  it('pttl and pexpire: the time to live in ms, and setting it; a missing key says so', async () => {
    const [k, missing] = [key(), key()]
    await client.set(k, 'v')
    expect(await redis.pttl(k)).toBe(-1)
    expect(await redis.pexpire(k, 60_000)).toBe(1)
    expect(await redis.pttl(k)).toBeGreaterThan(59_000)
    expect(await redis.pexpire(missing, 60_000)).toBe(0)
    expect(await redis.pttl(missing)).toBe(-2)
  })

  it('del removes several keys and counts them', async () => {
    const [a, b] = [key(), key()]
    await client.set(a, '1')
    await client.set(b, '2')
    expect(await redis.del(a, b, key())).toBe(2)
  })

  it('createScript loads a script Redis has never seen (NOSCRIPT, then EVAL) and reuses it by SHA', async () => {
    const source = `-- ${randomUUID()}\nreturn {KEYS[1], ARGV[1]}`
    const sha1 = createHash('sha1').update(source).digest('hex')
    const script = redis.createScript<string[]>(source)
    expect(await client.scriptExists(sha1)).toEqual([0])
    expect(await script.exec(['k'], ['v'])).toEqual(['k', 'v'])
    expect(await client.scriptExists(sha1)).toEqual([1])
    expect(await script.exec(['k2'], ['v2'])).toEqual(['k2', 'v2'])
  })

  it("passes Redis's own error replies through: they are answers, not outages", async () => {
    const k = key()
    await client.hSet(k, 'f', 'v')
    const error = await redis.getex(k, { ex: 60 }).catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(ErrorReply)
    expect(String(error)).toMatch(/WRONGTYPE/)
  })
})

describe('Redis client when Redis cannot answer', () => {
  it('rejects at once with RedisUnavailableError instead of queueing', async () => {
    const connection = await connectRedis(testEnv(inject('redisUrl'), { REDIS_COMMAND_TIMEOUT_MS: '2000' }))
    connection.client.destroy()
    const started = performance.now()
    const error = await connection.redis.ping().catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(RedisUnavailableError)
    expect(error).toMatchObject({ kind: 'unavailable', code: 'redis_unavailable' })
    // Well under the 2 s command timeout: it was not queued.
    expect(performance.now() - started).toBeLessThan(1000)
  })
})
