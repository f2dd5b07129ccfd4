import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, describe, expect, inject, it } from 'vitest'
import { type Slot, StreamSlots, type StreamSlotsOptions } from '../../src/limits/stream-slots.js'
import { connectRedis, type RedisConnection } from '../../src/redis/connection.js'
import { keys } from '../../src/redis/keys.js'
import { standaloneClient } from '../support/app.js'
import { testEnv } from '../support/env.js'
import { refusal } from '../support/refusal.js'

const connections: RedisConnection[] = []
const built: StreamSlots[] = []
afterAll(async () => {
  for (const slots of built) slots.close()
  for (const connection of connections) await connection.close()
})

async function connect(): Promise<RedisConnection> {
  const connection = await connectRedis(testEnv(inject('redisUrl')))
  connections.push(connection)
  return connection
}

/** Two replicas: two connections to one Redis. */
const [one, two] = [await connect(), await connect()]

function slotsOn(connection: RedisConnection, options: Partial<StreamSlotsOptions> = {}): StreamSlots {
  const slots = new StreamSlots(connection.redis, { maxPerSession: 16, ...options })
  built.push(slots)
  return slots
}

const session = () => randomUUID()

describe('StreamSlots', () => {
  it('allows 16 streams per session across replicas, refuses the 17th with 429 too_many_streams, frees one on release', async () => {
    const [a, b] = [slotsOn(one), slotsOn(two)]
    const sid = session()
    const held: Slot[] = []
    for (let i = 0; i < 16; i++) held.push(await (i % 2 ? a : b).acquire(sid))
    for (const slots of [a, b]) {
      expect(await refusal(slots.acquire(sid))).toMatchObject({
        kind: 'rate_limited',
        code: 'too_many_streams',
      })
    }
    await a.acquire(session()) // another session has its own budget
    await held[0]?.release()
    await held[0]?.release() // idempotent: frees one slot, not two
    await a.acquire(sid)
    expect(await refusal(b.acquire(sid))).toMatchObject({ code: 'too_many_streams' })
    expect(await standaloneClient(one).zCard(keys.streamSlots(sid))).toBe(16)
  })

  it('never grants more than the budget to concurrent acquires', async () => {
    const [a, b] = [slotsOn(one), slotsOn(two)]
    const sid = session()
    const results = await Promise.allSettled(
      Array.from({ length: 60 }, (_, i) => (i % 2 ? a : b).acquire(sid)),
    )
    expect(results.filter((result) => result.status === 'fulfilled')).toHaveLength(16)
    expect(a.size + b.size).toBe(16)
  })

  it("frees a crashed replica's slots when their leases run out, while a live replica's stay", async () => {
    // `crashed` never renews: its timer would fire only after the test.
    const crashed = slotsOn(one, { maxPerSession: 3, leaseMs: 300, renewEveryMs: 60_000 })
    const alive = slotsOn(two, { maxPerSession: 3, leaseMs: 300, renewEveryMs: 100 })
    const sid = session()
    const kept = await alive.acquire(sid)
    const lost = [await crashed.acquire(sid), await crashed.acquire(sid)]
    expect(await refusal(alive.acquire(sid))).toMatchObject({ code: 'too_many_streams' })
    await sleep(450)
    // The set lives on (the live lease keeps it), without the expired leases.
    await alive.acquire(sid)
    await alive.acquire(sid)
    expect(await refusal(alive.acquire(sid))).toMatchObject({ code: 'too_many_streams' })
    expect(kept.held).toBe(true)

    // Had it only stalled, its next renewal learns that its slots are gone, and tells their holders.
    const told: number[] = []
    for (const [i, slot] of lost.entries()) slot.onLost(() => told.push(i))
    await crashed.renew()
    expect(told).toEqual([0, 1])
    expect(lost.map((slot) => slot.held)).toEqual([false, false])
    expect(crashed.size).toBe(0)
    expect(await standaloneClient(one).zCard(keys.streamSlots(sid))).toBe(3)
  })

  it('keeps slots past their lease while their replica renews them', async () => {
    const holder = slotsOn(one, { maxPerSession: 2, leaseMs: 300, renewEveryMs: 100 })
    const other = slotsOn(two, { maxPerSession: 2, leaseMs: 300 })
    const sid = session()
    const [first, second] = [await holder.acquire(sid), await holder.acquire(sid)]
    await sleep(700)
    expect(await refusal(other.acquire(sid))).toMatchObject({ code: 'too_many_streams' })
    expect([first.held, second.held]).toEqual([true, true])
    await first.release()
    await other.acquire(sid)
  })

  it('leaves no key behind: the set expires with its latest lease, and empties on release', async () => {
    const slots = slotsOn(one, { leaseMs: 5000 })
    const sid = session()
    const key = keys.streamSlots(sid)
    const slot = await slots.acquire(sid)
    const ttl = await standaloneClient(one).pTTL(key)
    expect(ttl).toBeGreaterThan(4000)
    expect(ttl).toBeLessThanOrEqual(5000)
    await slot.release()
    expect(await standaloneClient(one).exists(key)).toBe(0)
    expect(slots.size).toBe(0)
  })

  it('keeps any session id inside the hash tag', () => {
    const key = keys.streamSlots('}{a:b')
    expect(key).toBe('hrs:sse:slots:{%7D%7Ba%3Ab}')
  })
})
