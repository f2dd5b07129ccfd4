import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, describe, expect, inject, it } from 'vitest'
import { ServiceError } from '../../src/lib/errors.js'
import { RateLimiter, type RateLimiterOptions } from '../../src/limits/rate-limiter.js'
import { connectRedis, type RedisConnection } from '../../src/redis/connection.js'
import { keys } from '../../src/redis/keys.js'
import { readLuaScript } from '../../src/redis/scripts.js'
import { standaloneClient } from '../support/app.js'
import { testEnv } from '../support/env.js'
import { TestRedisServer } from '../support/redis-server.js'
import { refusal } from '../support/refusal.js'

const connections: RedisConnection[] = []
afterAll(async () => {
  for (const connection of connections) await connection.close()
})

async function connect(url: string): Promise<RedisConnection> {
  const connection = await connectRedis(testEnv(url))
  connections.push(connection)
  return connection
}

/** Two replicas: two connections to one Redis, a limiter each. */
const [one, two] = [await connect(inject('redisUrl')), await connect(inject('redisUrl'))]
const replicas = (options: RateLimiterOptions): [RateLimiter, RateLimiter] => [
  new RateLimiter(one.redis, options),
  new RateLimiter(two.redis, options),
]
const limits = (sessions: number) => ({ sessions, authFailures: 3, appends: 1000 })
/** An address no other test uses. */
const subject = () => `2001:db8::${randomUUID().slice(0, 4)}:${randomUUID().slice(0, 4)}`

describe('RateLimiter', () => {
  it('allows exactly N a minute across replicas, then refuses with rate_limited and a Retry-After', async () => {
    const [a, b] = replicas({ limits: limits(5) })
    const who = subject()
    for (let i = 0; i < 5; i++) await (i % 2 ? a : b).consume('sessions', who)
    for (const limiter of [a, b]) {
      const error = await refusal(limiter.consume('sessions', who))
      expect(error).toMatchObject({ kind: 'rate_limited', code: 'rate_limited' })
      // The budget refills one attempt every 60 s / 5 = 12 s.
      expect(error?.retryAfterSeconds).toBeGreaterThanOrEqual(11)
      expect(error?.retryAfterSeconds).toBeLessThanOrEqual(12)
    }
  })

  it('never allows more than N under concurrent attempts from both replicas', async () => {
    // 47 a window: the refill interval, 600 s / 47, is no whole number of microseconds.
    const [a, b] = replicas({ limits: limits(47), windowMs: 600_000 })
    const who = subject()
    const attempts = Array.from({ length: 300 }, (_, i) => (i % 2 ? a : b).consume('sessions', who))
    const results = await Promise.allSettled(attempts)
    expect(results.filter((result) => result.status === 'fulfilled')).toHaveLength(47)
    const reasons = results.flatMap((result) => (result.status === 'rejected' ? [result.reason] : []))
    expect(reasons.every((reason) => reason instanceof ServiceError && reason.kind === 'rate_limited')).toBe(
      true,
    )
  })

  it('refills one attempt every window / N, and the whole budget after a window', async () => {
    const [a, b] = replicas({ limits: limits(4), windowMs: 1000 })
    const who = subject()
    for (let i = 0; i < 4; i++) await a.consume('sessions', who)
    const refused = await refusal(b.consume('sessions', who))
    expect(refused?.retryAfterSeconds).toBe(1) // 250 ms, rounded up to whole seconds
    await sleep(300)
    await b.consume('sessions', who)
    expect(await refusal(a.consume('sessions', who))).toBeInstanceOf(ServiceError)
    await sleep(1050)
    for (let i = 0; i < 4; i++) await (i % 2 ? a : b).consume('sessions', who)
    expect(await refusal(a.consume('sessions', who))).toBeInstanceOf(ServiceError)
  })

  it('counts each kind and each subject apart', async () => {
    const [a] = replicas({ limits: limits(2) })
    const [who, other] = [subject(), subject()]
    await a.consume('sessions', who)
    await a.consume('sessions', who)
    expect(await refusal(a.consume('sessions', who))).toBeInstanceOf(ServiceError)
    await a.consume('sessions', other)
    for (let i = 0; i < 3; i++) await a.consume('authFailures', who)
    expect(await refusal(a.consume('authFailures', who))).toBeInstanceOf(ServiceError)
  })

  it('records nothing for a refused attempt or a check', async () => {
    const [a, b] = replicas({ limits: limits(3) })
    const who = subject()
    for (let i = 0; i < 10; i++) await b.check('sessions', who)
    for (let i = 0; i < 3; i++) await a.consume('sessions', who)
    const key = keys.rateLimit('sessions', who)
    const state = await standaloneClient(one).get(key)
    expect(await refusal(b.check('sessions', who))).toMatchObject({ code: 'rate_limited' })
    for (let i = 0; i < 10; i++)
      expect(await refusal(a.consume('sessions', who))).toBeInstanceOf(ServiceError)
    expect(await standaloneClient(one).get(key)).toBe(state)
  })

  it('keeps any subject inside its hash tag, and its state only as long as it matters', async () => {
    const [a] = replicas({ limits: limits(30) })
    const who = `}{evil:${randomUUID()}`
    const key = keys.rateLimit('sessions', who)
    expect(key).toBe(`hrs:rl:{sessions:${encodeURIComponent(who)}}`)
    expect(key.match(/[{}]/g)).toEqual(['{', '}'])
    await a.consume('sessions', who)
    // One attempt of 30 a minute: the state matters for 2 s (60 s / 30), then it is as if nothing happened.
    const ttl = await standaloneClient(one).pTTL(key)
    expect(ttl).toBeGreaterThan(1500)
    expect(ttl).toBeLessThanOrEqual(2000)
  })

  it('is exact to the microsecond whatever the limit (the script on a fixed clock)', async () => {
    const source = readLuaScript('rate-limit')
    expect(source).toContain("redis.call('TIME')")
    // The same script, reading its clock from ARGV[4] (seconds) and ARGV[5] (microseconds).
    const script = one.redis.createScript<[0 | 1, number]>(
      source.replace("redis.call('TIME')", '{ARGV[4], ARGV[5]}'),
    )
    const key = keys.rateLimit('sessions', subject())
    const at = (us: number) =>
      script.exec(
        [key],
        ['47', '600000', '1', String(1_800_000_000 + Math.floor(us / 1e6)), String(us % 1e6)],
      )
    // 47 per 10 minutes: one every 12,765,957.45 us. All 47 at one instant, not one more.
    for (let i = 0; i < 47; i++) expect(await at(0)).toEqual([1, 0])
    expect(await at(0)).toEqual([0, 12_766])
    expect(await at(12_765_957)).toEqual([0, 1])
    expect(await at(12_765_958)).toEqual([1, 0])
    // The next one after exactly two intervals from the start (25,531,914.89 us), not a microsecond sooner.
    expect(await at(25_531_914)).toEqual([0, 1])
    expect(await at(25_531_915)).toEqual([1, 0])
  })

  it('is one Redis command per check: one EVALSHA', async () => {
    const server = await TestRedisServer.start()
    try {
      const connection = await connect(await server.url())
      const { redis } = connection
      const client = standaloneClient(connection)
      const limiter = new RateLimiter(redis, { limits: limits(5) })
      await limiter.consume('sessions', 'warm-up') // loads the script (NOSCRIPT, then EVAL)
      await client.configResetStat()
      await limiter.consume('sessions', subject())
      await limiter.consume('sessions', 'warm-up')
      await limiter.check('sessions', 'warm-up')
      const calls = Object.fromEntries(
        [...(await client.info('commandstats')).matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)].map(
          ([, name, n]) => [name, Number(n)],
        ),
      )
      delete calls.info
      delete calls['config|resetstat']
      // Commands a script runs are counted too: TIME, GET and SET (by the two consumes) are the script's own.
      expect(calls).toEqual({ evalsha: 3, time: 3, get: 3, set: 2 })
    } finally {
      await server.stop()
    }
  })
})
