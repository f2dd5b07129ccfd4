import { ErrorReply } from 'redis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createApp } from '../../../src/app.js'
import { createRedisClient, type Redis } from '../../../src/redis/client.js'
import { standaloneTopology } from '../../../src/redis/standalone.js'
import { buildTestApp, type TestApp } from '../../support/app.js'
import { testEnv } from '../../support/env.js'
import { TestRedisServer } from '../../support/redis-server.js'

/**
 * Readiness against the role of the Redis it is given: a read-only replica (for example the old primary
 * after a failover) answers PING but refuses every write and even a session read (GETEX), so a replica
 * must not be sent traffic.
 */

interface Health {
  status: string
  output?: string
  checks: Record<string, [{ status: string; output?: string; observedValue?: unknown }]>
}

let primary: TestRedisServer
let replica: TestRedisServer
let onPrimary: TestApp
let onReplica: TestApp

beforeAll(async () => {
  primary = await TestRedisServer.start()
  const { port } = new URL(await primary.url())
  replica = await TestRedisServer.start(['--replicaof', '127.0.0.1', port])
  onPrimary = await buildTestApp(await primary.url())
  onReplica = await buildTestApp(await replica.url())
})
afterAll(async () => {
  await replica?.stop()
  await primary?.stop()
})

async function readiness(test: TestApp) {
  const res = await test.app.request('/readyz')
  return { res, body: (await res.json()) as Health }
}

describe('GET /readyz and the Redis role', () => {
  it('passes on the primary, with its role', async () => {
    const { res, body } = await readiness(onPrimary)
    expect(res.status).toBe(200)
    expect(body.status).toBe('pass')
    expect(body.checks['redis:role']).toEqual([
      { status: 'pass', observedValue: 'master', time: expect.any(String) },
    ])
  })

  it('fails on a read-only replica, saying so, although it answers PING', async () => {
    const { res, body } = await readiness(onReplica)
    expect(res.status).toBe(503)
    expect(res.headers.get('content-type')).toBe('application/health+json')
    expect(res.headers.get('cache-control')).toBe('no-store')
    expect(body).toMatchObject({ status: 'fail', output: 'redis is read-only (a replica)' })
    expect(body.checks['redis:responseTime']?.[0].status).toBe('pass')
    expect(body.checks['redis:role']).toEqual([
      {
        status: 'fail',
        observedValue: 'replica',
        output: 'redis is read-only (a replica)',
        time: expect.any(String),
      },
    ])
    // What readiness protects against: the same app's session writes fail there.
    expect((await onReplica.app.request('/sessions', { method: 'POST' })).status).toBe(503)
  })

  it('passes again once the replica is promoted (REPLICAOF NO ONE)', async () => {
    await onReplica.client.sendCommand(['REPLICAOF', 'NO', 'ONE'])
    try {
      const { res, body } = await readiness(onReplica)
      expect(res.status).toBe(200)
      expect(body.checks['redis:role']?.[0]).toMatchObject({ status: 'pass', observedValue: 'master' })
    } finally {
      const { port } = new URL(await primary.url())
      await onReplica.client.sendCommand(['REPLICAOF', '127.0.0.1', port])
    }
    expect((await readiness(onReplica)).res.status).toBe(503)
  })

  it('passes on PING alone where the server does not tell its role (HELLO without arguments before Redis 6.2)', async () => {
    // The facade: an error reply to HELLO is "not told", not a failure. The app's own connection, but for HELLO.
    const real = onPrimary.client
    const refusesBareHello = new Proxy(real, {
      get(target, property) {
        if (property === 'hello') {
          return async () => {
            throw new ErrorReply("ERR wrong number of arguments for 'hello' command")
          }
        }
        const value: unknown = Reflect.get(target, property, target)
        return typeof value === 'function' ? value.bind(target) : value
      },
    })
    const facade = createRedisClient(standaloneTopology(refusesBareHello), 1000)
    expect(await facade.ping()).toBe('PONG')
    expect(await facade.role()).toBeUndefined()
    // Readiness: an unknown role passes, and the check says nothing it does not know.
    const redis: Redis = { ...onPrimary.redis, role: async () => undefined }
    const app = createApp(testEnv(await primary.url()), redis)
    try {
      const res = await app.request('/readyz')
      expect(res.status).toBe(200)
      const body = (await res.json()) as Health
      expect(body.checks['redis:role']).toEqual([{ status: 'pass', time: expect.any(String) }])
    } finally {
      await app.lifecycle.close()
    }
  })
})
