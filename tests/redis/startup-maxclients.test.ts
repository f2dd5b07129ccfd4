import { createClient } from 'redis'
import { afterAll, describe, expect, it } from 'vitest'
import { connectRedis } from '../../src/redis/connection.js'
import { testEnv } from '../support/env.js'
import { TestRedisServer } from '../support/redis-server.js'

/**
 * A Redis at its `maxclients` answers a new connection `ERR max number of clients reached` and closes
 * it: a full server, not a refusal. Startup keeps trying for REDIS_CONNECT_TIMEOUT_MS, and connects once
 * a connection is freed, where a refusal (a wrong password, a database index it lacks) ends it at once.
 */

const server = await TestRedisServer.start(['--maxclients', '1'])
afterAll(() => server.stop())

describe('startup against a Redis at its maxclients', () => {
  it('retries within the budget and connects once a connection is freed', async () => {
    const url = await server.url()
    const occupant = createClient({ url })
    occupant.on('error', () => {})
    await occupant.connect()
    const freed = new Promise<void>((resolve) =>
      setTimeout(() => {
        occupant.destroy()
        resolve()
      }, 500),
    )
    const connecting = connectRedis(testEnv(url, { REDIS_CONNECT_TIMEOUT_MS: '10000' }))
    const outcome = await connecting.then(
      async (connection) => {
        await connection.close()
        return 'connected'
      },
      (error: Error) => error.message,
    )
    await freed
    expect(outcome).toBe('connected')
  })
})
