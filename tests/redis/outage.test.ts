import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { TestApp } from '../support/app.js'
import { buildTestApp } from '../support/app.js'
import { TEST_API_TOKEN } from '../support/env.js'
import { freePort } from '../support/net.js'
import { TestRedisServer } from '../support/redis-server.js'

/**
 * Redis trouble after startup: the app answers 503 with Retry-After (never a 500, never a hang),
 * readiness says why, and both recover by themselves when Redis is back.
 */
// Generous budgets, so that "at once" (well under them) and "within them" stay distinguishable on a
// loaded machine.
const COMMAND_TIMEOUT_MS = 2000
const READY_TIMEOUT_MS = 1000

let server: TestRedisServer
let test: TestApp
let cookie: string

beforeAll(async () => {
  server = await TestRedisServer.start()
  test = await buildTestApp(await server.url(), {
    REDIS_COMMAND_TIMEOUT_MS: String(COMMAND_TIMEOUT_MS),
    READY_TIMEOUT_MS: String(READY_TIMEOUT_MS),
  })
  const res = await test.app.request('/sessions', { method: 'POST' })
  cookie = /sid=[^;]+/.exec(res.headers.get('set-cookie') ?? '')?.[0] ?? ''
})
afterAll(async () => {
  await server.stop()
})

async function timed(path: string, init?: RequestInit) {
  const started = performance.now()
  const res = await test.app.request(path, init)
  return { res, body: (await res.json()) as Record<string, unknown>, ms: performance.now() - started }
}

async function readyWithin(ms: number) {
  const deadline = performance.now() + ms
  while (performance.now() < deadline) {
    if ((await test.app.request('/readyz')).status === 200) return true
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  return false
}

describe.sequential('Redis outage after startup', () => {
  it('serves normally while Redis is up', async () => {
    expect((await test.app.request('/sessions/current', { headers: { Cookie: cookie } })).status).toBe(200)
  })

  it('stopped Redis: 503 with Retry-After at once, never 401 or an empty session', async () => {
    await server.stop()
    const read = await timed('/sessions/current', { headers: { Cookie: cookie } })
    expect(read.res.status).toBe(503)
    expect(read.res.headers.get('retry-after')).toBe('1')
    expect(read.body).toEqual({ error: { code: 'redis_unavailable', message: expect.any(String) } })
    // "At once": it did not sit out the command timeout in an offline queue.
    expect(read.ms).toBeLessThan(COMMAND_TIMEOUT_MS / 2)
    const create = await timed('/sessions', { method: 'POST' })
    expect(create.res.status).toBe(503)
  })

  it('stopped Redis: every session write is a 503, and a failed logout keeps the cookie to retry with', async () => {
    const json = { 'Content-Type': 'application/json' }
    const writes: [string, RequestInit][] = [
      [
        '/sessions/current',
        { method: 'PATCH', headers: { Cookie: cookie, ...json }, body: '{"data":{"a":1}}' },
      ],
      ['/sessions/current/rotate', { method: 'POST', headers: { Cookie: cookie } }],
      ['/sessions/current', { method: 'DELETE', headers: { Cookie: cookie } }],
      [
        '/buffers/outage-test/items',
        {
          method: 'POST',
          headers: { Authorization: `Bearer ${TEST_API_TOKEN}`, ...json },
          body: '{"data":1}',
        },
      ],
    ]
    for (const [path, init] of writes) {
      const { res } = await timed(path, init)
      expect(res.status, `${init.method} ${path}`).toBe(503)
      expect(res.headers.get('retry-after')).toBe('1')
      expect(res.headers.get('set-cookie'), `${init.method} ${path}`).toBeNull()
    }
  })

  it('stopped Redis: readiness fails quickly and says Redis is unreachable; liveness passes', async () => {
    const ready = await timed('/readyz')
    expect(ready.res.status).toBe(503)
    expect(ready.body).toMatchObject({ status: 'fail', output: expect.stringMatching(/unreachable/) })
    expect(ready.ms).toBeLessThan(READY_TIMEOUT_MS / 2)
    expect((await test.app.request('/healthz')).status).toBe(200)
  })

  it('restarted Redis: readiness recovers by itself within 2 s', async () => {
    await server.restart()
    expect(await readyWithin(2000)).toBe(true)
  })

  it('hung Redis (SIGSTOP): 503 within the command timeout, readiness within its own budget', async () => {
    server.freeze()
    try {
      const read = await timed('/sessions', { method: 'POST' })
      expect(read.res.status).toBe(503)
      expect(read.res.headers.get('retry-after')).toBe('1')
      expect(read.ms).toBeGreaterThanOrEqual(COMMAND_TIMEOUT_MS - 50)
      expect(read.ms).toBeLessThan(COMMAND_TIMEOUT_MS + 1000)
      const ready = await timed('/readyz')
      expect(ready.res.status).toBe(503)
      expect(ready.body).toMatchObject({ status: 'fail', output: expect.stringMatching(/too slow/) })
      expect(ready.ms).toBeGreaterThanOrEqual(READY_TIMEOUT_MS - 50)
      expect(ready.ms).toBeLessThan(READY_TIMEOUT_MS + 1000)
    } finally {
      server.thaw()
    }
    expect(await readyWithin(2000)).toBe(true)
  })
})

describe('Redis answering "not now" (transient error replies)', () => {
  let server: TestRedisServer
  let test: TestApp

  beforeAll(async () => {
    server = await TestRedisServer.start()
    test = await buildTestApp(await server.url())
  })
  afterAll(() => server.stop())

  async function expectUnavailableThenRecovered(enter: string[], leave: string[]) {
    expect((await test.app.request('/sessions', { method: 'POST' })).status).toBe(201)
    await test.client.sendCommand(enter)
    try {
      const res = await test.app.request('/sessions', { method: 'POST' })
      expect(res.status).toBe(503)
      expect(res.headers.get('retry-after')).toBe('1')
      expect(await res.json()).toMatchObject({ error: { code: 'redis_unavailable' } })
    } finally {
      await test.client.sendCommand(leave)
    }
    expect((await test.app.request('/sessions', { method: 'POST' })).status).toBe(201)
  }

  it('OOM under noeviction is a 503, not a 500', async () => {
    await test.client.sendCommand(['CONFIG', 'SET', 'maxmemory-policy', 'noeviction'])
    await expectUnavailableThenRecovered(
      ['CONFIG', 'SET', 'maxmemory', '1'],
      ['CONFIG', 'SET', 'maxmemory', '0'],
    )
  })

  it('READONLY (a replica after a failover) is a 503, not a 500', async () => {
    const nowhere = String(await freePort())
    await expectUnavailableThenRecovered(['REPLICAOF', '127.0.0.1', nowhere], ['REPLICAOF', 'NO', 'ONE'])
  })
})
