import { ClientClosedError, ErrorReply } from 'redis'
import { describe, expect, it } from 'vitest'
import { RedisUnavailableError } from '../../src/errors.js'
import { ReplyDeadlines } from '../../src/redis/replies.js'

const never = () => new Promise<never>(() => {})
const resolveAfter = <T>(ms: number, value: T) =>
  new Promise<T>((resolve) => setTimeout(() => resolve(value), ms))

describe('ReplyDeadlines', () => {
  it('fails a command without a reply at its deadline, and only that one', async () => {
    const deadlines = new ReplyDeadlines(150)
    const started = performance.now()
    const [early, hung, late] = await Promise.allSettled([
      deadlines.call(() => resolveAfter(10, 'early')),
      deadlines.call(never),
      deadlines.call(() => resolveAfter(100, 'late')),
    ])
    expect(early).toEqual({ status: 'fulfilled', value: 'early' })
    expect(late).toEqual({ status: 'fulfilled', value: 'late' })
    expect(hung.status === 'rejected' && hung.reason).toBeInstanceOf(RedisUnavailableError)
    expect(performance.now() - started).toBeGreaterThanOrEqual(145)
    expect(performance.now() - started).toBeLessThan(400)
  })

  it('gives each command the full timeout, however long the queue has been busy', async () => {
    const deadlines = new ReplyDeadlines(200)
    const first = deadlines.call(never).catch((error: unknown) => error)
    await resolveAfter(150, null)
    // Sent 150 ms after the first: its deadline is 200 ms from now, not the first's.
    const second = deadlines.call(() => resolveAfter(150, 'second'))
    expect(await first).toBeInstanceOf(RedisUnavailableError)
    expect(await second).toBe('second')
  })

  it('passes error replies through, and turns transient ones and lost connections into 503s', async () => {
    const deadlines = new ReplyDeadlines(1000)
    const wrongType = new ErrorReply('WRONGTYPE Operation against a key holding the wrong kind of value')
    await expect(deadlines.call(() => Promise.reject(wrongType))).rejects.toBe(wrongType)
    await expect(
      deadlines.call(() => Promise.reject(new ErrorReply('LOADING Redis is loading the dataset'))),
    ).rejects.toBeInstanceOf(RedisUnavailableError)
    await expect(
      deadlines.call(() =>
        Promise.reject(new ErrorReply('MISCONF Redis is configured to save RDB snapshots')),
      ),
    ).rejects.toBeInstanceOf(RedisUnavailableError)
    await expect(
      deadlines.call(() => {
        throw new ClientClosedError()
      }),
    ).rejects.toBeInstanceOf(RedisUnavailableError)
    const reset = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET', syscall: 'read' })
    await expect(deadlines.call(() => Promise.reject(reset))).rejects.toBeInstanceOf(RedisUnavailableError)
  })

  it('lets a bug in the caller through as itself, not as a Redis outage', async () => {
    const deadlines = new ReplyDeadlines(1000)
    const bug = new TypeError('Invalid argument type')
    await expect(deadlines.call(() => Promise.reject(bug))).rejects.toBe(bug)
  })
})
