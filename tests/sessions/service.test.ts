import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildTestApp, type TestApp } from '../support/app.js'
import { commandsDuring as countCommands } from '../support/redis-commands.js'
import { TestRedisServer } from '../support/redis-server.js'

/**
 * The cost contract of the session service, counted by Redis itself on a server of our own: routes
 * that do not use the session cost nothing, and an authenticated read or write costs one command.
 */
let server: TestRedisServer
let test: TestApp
let cookie: string

beforeAll(async () => {
  server = await TestRedisServer.start()
  test = await buildTestApp(await server.url())
  const res = await test.app.request('/sessions', {
    method: 'POST',
    body: '{"data":{"a":1}}',
    headers: { 'Content-Type': 'application/json' },
  })
  cookie = /sid=[^;]+/.exec(res.headers.get('set-cookie') ?? '')?.[0] ?? ''
  // Warm the patch script into Redis's cache, so the counts below are the steady state (no NOSCRIPT + EVAL).
  await test.app.request('/sessions/current', {
    method: 'PATCH',
    body: '{"data":{"a":2}}',
    headers: { Cookie: cookie, 'Content-Type': 'application/json' },
  })
})
afterAll(() => server.stop())

/** Calls per command name that Redis counted while `action` ran (see tests/support/redis-commands.ts). */
const commandsDuring = (action: () => Promise<unknown>) => countCommands(test.client, action)

describe('the session service: its cost in Redis commands', () => {
  it('touches Redis only when a handler asks for the session', async () => {
    const commands = await commandsDuring(async () =>
      test.app.request('/healthz', { headers: { Cookie: cookie } }),
    )
    expect(commands).toEqual({})
  })

  it('reads an authenticated session and slides its TTL in one command', async () => {
    const commands = await commandsDuring(async () => {
      const res = await test.app.request('/sessions/current', { headers: { Cookie: cookie } })
      expect(res.status).toBe(200)
    })
    expect(commands).toEqual({ getex: 1 })
  })

  it('merges a patch in one command', async () => {
    const commands = await commandsDuring(async () => {
      const res = await test.app.request('/sessions/current', {
        method: 'PATCH',
        body: '{"data":{"b":3}}',
        headers: { Cookie: cookie, 'Content-Type': 'application/json' },
      })
      expect(res.status).toBe(200)
    })
    expect(commands).toMatchObject({ evalsha: 1 })
    expect(Object.keys(commands).sort()).toEqual(['evalsha', 'get', 'set'])
  })

  it('refuses a patch that cannot fit in 4 KiB whatever the session holds, without asking Redis', async () => {
    const commands = await commandsDuring(async () => {
      const res = await test.app.request('/sessions/current', {
        method: 'PATCH',
        body: JSON.stringify({
          data: Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`k${i}`, i])),
        }),
        headers: { Cookie: cookie, 'Content-Type': 'application/json' },
      })
      expect(res.status).toBe(413)
      expect(await res.json()).toMatchObject({ error: { code: 'session_data_too_large' } })
    })
    expect(commands).toEqual({})
  })

  it('rejects a bad cookie without reading a session: its one command counts the failed authentication', async () => {
    const commands = await commandsDuring(async () => {
      const res = await test.app.request('/sessions/current', { headers: { Cookie: 'sid=forged.value' } })
      expect(res.status).toBe(401)
    })
    expect(commands.getex).toBeUndefined()
    expect(commands.evalsha).toBe(1)
  })
})
