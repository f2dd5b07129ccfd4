import { ErrorReply } from 'redis'
import { describe, expect, it } from 'vitest'
import { Deadline, type WorkObserver } from '../../src/lib/deadline.js'
import { BucketHistogram } from '../../src/lib/histogram.js'
import { RedisTimeoutError, RedisUnavailableError } from '../../src/redis/failures.js'
import { keyFamily, keys } from '../../src/redis/keys.js'
import { RedisStats } from '../../src/redis/stats.js'

describe('BucketHistogram', () => {
  it('counts each value in the first bucket whose bound it does not exceed, +Inf last', () => {
    const histogram = new BucketHistogram([1, 10])
    for (const value of [0, 1, 1.5, 10, 11]) histogram.observe(value)
    expect(histogram.counts).toEqual([2, 2, 1])
    expect(histogram.count).toBe(5)
    expect(histogram.sum).toBe(23.5)
  })
})

describe('Deadline observers', () => {
  const recorder = () => {
    const seen: { ok: boolean; ms: number; error?: unknown }[] = []
    const observer: WorkObserver = {
      succeeded: (ms) => seen.push({ ok: true, ms }),
      failed: (ms, error) => seen.push({ ok: false, ms, error }),
    }
    return { seen, observer }
  }

  it('is told of a success, a mapped failure and an expiry, once each', async () => {
    const deadline = new Deadline(30, { failed: (error) => new Error(`mapped: ${String(error)}`) })
    const { seen, observer } = recorder()
    await deadline.within(() => Promise.resolve(1), observer)
    await deadline.within(() => Promise.reject('no'), observer).catch(() => {})
    let late: (value: number) => void = () => {}
    const expiring = deadline.within(() => new Promise<number>((resolve) => (late = resolve)), observer)
    await expect(expiring).rejects.toThrow('no outcome within 30 ms')
    late(2)
    await new Promise((resolve) => setImmediate(resolve))
    expect(seen.map(({ ok }) => ok)).toEqual([true, false, false])
    expect(seen[1]?.error).toEqual(new Error('mapped: no'))
    expect(seen[2]?.ms).toBe(30)
  })
})

describe('RedisStats', () => {
  it('counts failures by class: timeout, connection, reply (transient replies too); bugs are not Redis errors', () => {
    const stats = new RedisStats(() => true)
    const { other } = stats.commands
    other.failed(5, new RedisTimeoutError(5))
    other.failed(1, new RedisUnavailableError('socket closed'))
    other.failed(1, new ErrorReply('WRONGTYPE Operation against a key holding the wrong kind of value'))
    other.failed(
      1,
      new RedisUnavailableError('READONLY', { cause: new ErrorReply('READONLY You can not write') }),
    )
    other.failed(1, new TypeError('a bug'))
    other.succeeded(2)
    expect(stats.errors).toEqual({ timeout: 1, connection: 1, reply: 2 })
    expect(other.durations.count).toBe(6)
  })

  it('sorts keys into a few fixed families', () => {
    expect(keyFamily(keys.session('abcd', 'abcdef'))).toBe('session')
    expect(keyFamily(keys.userSessions('abcd', 'ada'))).toBe('session')
    expect(keyFamily(keys.v2Session('abc'))).toBe('session')
    expect(keyFamily(keys.v2UserSessions('ada'))).toBe('session')
    expect(keyFamily(keys.revokedSessions())).toBe('session')
    expect(keyFamily(keys.bufferItems('orders'))).toBe('buffer')
    expect(keyFamily(keys.bufferMeta('orders'))).toBe('buffer')
    expect(keyFamily(keys.rateLimit('appends', 'ada'))).toBe('limit')
    expect(keyFamily(keys.streamSlots('s'))).toBe('limit')
    expect(keyFamily('elsewhere')).toBe('other')
    expect(keyFamily(undefined)).toBe('other')
  })
})
