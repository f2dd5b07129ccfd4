import { ClientClosedError, ErrorReply, MaxCommandRedirectionsError, RootNodesUnavailableError } from 'redis'
import { describe, expect, it } from 'vitest'
import { RedisTimeoutError, RedisUnavailableError, replyDeadline } from '../../src/redis/failures.js'

describe('replyDeadline: how a Redis reply fails', () => {
  it('is a RedisTimeoutError (an outage) when no reply comes in time', async () => {
    const error = await replyDeadline(50)
      .within(() => new Promise<never>(() => {}))
      .catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(RedisTimeoutError)
    expect(error).toMatchObject({ kind: 'unavailable', code: 'redis_unavailable', timeoutMs: 50 })
  })

  it('passes error replies through, and turns transient ones and lost connections into outages', async () => {
    const replies = replyDeadline(1000)
    const wrongType = new ErrorReply('WRONGTYPE Operation against a key holding the wrong kind of value')
    await expect(replies.within(() => Promise.reject(wrongType))).rejects.toBe(wrongType)
    await expect(
      replies.within(() => Promise.reject(new ErrorReply('LOADING Redis is loading the dataset'))),
    ).rejects.toBeInstanceOf(RedisUnavailableError)
    await expect(
      replies.within(() =>
        Promise.reject(new ErrorReply('MISCONF Redis is configured to save RDB snapshots')),
      ),
    ).rejects.toBeInstanceOf(RedisUnavailableError)
    await expect(
      replies.within(() => {
        throw new ClientClosedError()
      }),
    ).rejects.toBeInstanceOf(RedisUnavailableError)
    const reset = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET', syscall: 'read' })
    await expect(replies.within(() => Promise.reject(reset))).rejects.toBeInstanceOf(RedisUnavailableError)
  })

  it('turns a topology in motion into outages: cluster redirections and slot maps, a failover, CLUSTERDOWN', async () => {
    const replies = replyDeadline(1000)
    const moved = new ErrorReply('MOVED 3999 127.0.0.1:7001')
    for (const error of [
      new MaxCommandRedirectionsError(moved),
      new RootNodesUnavailableError(),
      new Error('None of the sentinels are available'),
      new Error('no valid master node'),
      new ErrorReply('TRYAGAIN Multiple keys request during rehashing of slot'),
      new ErrorReply('CLUSTERDOWN The cluster is down'),
      new ErrorReply("READONLY You can't write against a read only replica."),
    ]) {
      await expect(replies.within(() => Promise.reject(error))).rejects.toBeInstanceOf(RedisUnavailableError)
    }
  })

  it('lets a bug in the caller through as itself, not as a Redis outage', async () => {
    const bug = new TypeError('Invalid argument type')
    await expect(replyDeadline(1000).within(() => Promise.reject(bug))).rejects.toBe(bug)
  })
})
