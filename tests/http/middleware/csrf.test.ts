import { Hono } from 'hono'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { rejectCrossSite } from '../../../src/http/middleware/csrf.js'
import { handleError } from '../../../src/http/middleware/error-handler.js'
import { buildTestApp, type TestApp } from '../../support/app.js'
import { servedUrl } from '../../support/buffers.js'
import { captureLogs } from '../../support/logs.js'
import { commandsDuring } from '../../support/redis-commands.js'
import { TestRedisServer } from '../../support/redis-server.js'

/**
 * Cross-site session changes, through the whole app on a Redis of its own, so that Redis's own counts
 * show that a refusal costs no command. `app.request()` URLs are http://localhost/...: that is the
 * service's own origin there.
 */
const ALLOWED = 'https://app.example.com'
const EVIL = 'https://evil.example'

let server: TestRedisServer
let test: TestApp

beforeAll(async () => {
  server = await TestRedisServer.start()
  test = await buildTestApp(await server.url(), {
    ALLOWED_ORIGINS: ALLOWED,
    RATE_LIMIT_SESSIONS_PER_MINUTE: '100000',
  })
})
afterAll(() => server.stop())

function sidCookie(res: Response): string {
  const match = /(?:^|,\s*)(sid=[^;]*)/.exec(res.headers.get('set-cookie') ?? '')
  if (!match?.[1]) throw new Error(`no sid cookie: ${res.status}`)
  return match[1]
}

async function createSession(data: Record<string, unknown>): Promise<string> {
  const res = await test.app.request('/sessions', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ data }),
  })
  expect(res.status).toBe(201)
  return sidCookie(res)
}

const patch = (cookie: string, data: Record<string, unknown>, headers: Record<string, string>) =>
  test.app.request('/sessions/current', {
    method: 'PATCH',
    headers: { ...headers, Cookie: cookie, 'Content-Type': 'application/json' },
    body: JSON.stringify({ data }),
  })

async function dataOf(cookie: string): Promise<unknown> {
  const res = await test.app.request('/sessions/current', { headers: { Cookie: cookie } })
  expect(res.status).toBe(200)
  return ((await res.json()) as { data: unknown }).data
}

async function expectRefused(res: Response) {
  expect(res.status).toBe(403)
  expect(await res.json()).toMatchObject({ error: { code: 'cross_site_request' } })
}

describe('rejectCrossSite, mounted on /sessions', () => {
  it('refuses a cross-site PATCH /sessions/current with a valid cookie: 403, session unchanged, no Redis command', async () => {
    const cookie = await createSession({ role: 'reader' })
    let res: Response | undefined
    const commands = await commandsDuring(test.client, async () => {
      res = await patch(cookie, { role: 'admin' }, { Origin: EVIL, 'Sec-Fetch-Site': 'cross-site' })
    })
    await expectRefused(res as Response)
    expect(commands).toEqual({})
    expect(await dataOf(cookie)).toEqual({ role: 'reader' })
  })

  it.each([
    ['Sec-Fetch-Site: cross-site alone', { 'Sec-Fetch-Site': 'cross-site' }],
    ['Sec-Fetch-Site: cross-site with Origin: null', { 'Sec-Fetch-Site': 'cross-site', Origin: 'null' }],
    ['a foreign Origin alone (no Sec-Fetch-Site)', { Origin: EVIL }],
    ['Origin: null', { Origin: 'null' }],
    [
      'Origin: null, even with Sec-Fetch-Site: same-origin',
      { Origin: 'null', 'Sec-Fetch-Site': 'same-origin' },
    ],
    [
      'same-site from an unlisted sibling',
      { Origin: 'https://other.example.com', 'Sec-Fetch-Site': 'same-site' },
    ],
    ['same-site without an Origin', { 'Sec-Fetch-Site': 'same-site' }],
    ['our host on another port', { Origin: 'http://localhost:8080' }],
    ['our host over another scheme', { Origin: 'https://localhost' }],
    ['a prefix of an allowed origin', { Origin: 'https://app.example.co' }],
    ['an allowed origin with a trailing slash', { Origin: `${ALLOWED}/` }],
  ])('refuses %s', async (_, headers) => {
    const cookie = await createSession({ n: 1 })
    await expectRefused(await patch(cookie, { n: 2 }, headers))
    expect(await dataOf(cookie)).toEqual({ n: 1 })
  })

  it('refuses every unsafe session route: create, rotate, delete', async () => {
    const cross = { Origin: EVIL, 'Sec-Fetch-Site': 'cross-site' }
    let created: Response | undefined
    // Refused before the rate limiter (a Redis counter) and the store.
    const commands = await commandsDuring(test.client, async () => {
      created = await test.app.request('/sessions', {
        method: 'POST',
        headers: { ...cross, 'Content-Type': 'application/json' },
        body: '{}',
      })
    })
    if (!created) throw new Error('no response')
    await expectRefused(created)
    expect(commands).toEqual({})
    expect(created.headers.get('set-cookie')).toBeNull()
    // The form-shaped attack: no body, no JSON.
    const form = await test.app.request('/sessions', { method: 'POST', headers: cross })
    await expectRefused(form)

    const cookie = await createSession({ kept: true })
    for (const [method, path] of [
      ['POST', '/sessions/current/rotate'],
      ['DELETE', '/sessions/current'],
      ['PUT', '/sessions/current'],
    ] as const) {
      const res = await test.app.request(path, { method, headers: { ...cross, Cookie: cookie } })
      await expectRefused(res)
      expect(res.headers.get('set-cookie'), `${method} ${path}`).toBeNull()
    }
    expect(await dataOf(cookie)).toEqual({ kept: true })
  })

  it.each([
    ['a request with neither header (curl, a server)', {}],
    ['the service itself (Origin)', { Origin: 'http://localhost' }],
    ['the service itself (both headers)', { Origin: 'http://localhost', 'Sec-Fetch-Site': 'same-origin' }],
    [
      'same-origin behind a TLS proxy (Origin https:, request URL http:)',
      { Origin: 'https://localhost', 'Sec-Fetch-Site': 'same-origin' },
    ],
    ['an allowed origin (Origin alone)', { Origin: ALLOWED }],
    ['an allowed origin, same-site', { Origin: ALLOWED, 'Sec-Fetch-Site': 'same-site' }],
    ['an allowed origin, cross-site', { Origin: ALLOWED, 'Sec-Fetch-Site': 'cross-site' }],
    ['a navigation the user started', { 'Sec-Fetch-Site': 'none' }],
  ])('lets through %s', async (_, headers) => {
    const cookie = await createSession({ n: 1 })
    const res = await patch(cookie, { n: 2 }, headers)
    expect(res.status).toBe(200)
    expect(await dataOf(cookie)).toEqual({ n: 2 })
  })

  it('compares with the Host header over real HTTP: the served origin passes, another port does not', async () => {
    const base = await servedUrl(test.app)
    const other = new URL(base)
    other.port = String(Number(other.port) + 1)
    const cookie = await createSession({ n: 1 })
    const patchOver = (origin: string) =>
      fetch(`${base}/sessions/current`, {
        method: 'PATCH',
        headers: { Origin: origin, Cookie: cookie, 'Content-Type': 'application/json' },
        body: '{"data":{"n":2}}',
      })
    await expectRefused(await patchOver(other.origin))
    expect(await dataOf(cookie)).toEqual({ n: 1 })
    expect((await patchOver(base)).status).toBe(200)
    expect(await dataOf(cookie)).toEqual({ n: 2 })
  })

  it('leaves safe methods and other paths alone', async () => {
    const cookie = await createSession({ n: 1 })
    const cross = { Origin: EVIL, 'Sec-Fetch-Site': 'cross-site' }
    const read = await test.app.request('/sessions/current', { headers: { ...cross, Cookie: cookie } })
    expect(read.status).toBe(200)
    const elsewhere = await test.app.request('/nowhere', { method: 'POST', headers: cross })
    expect(elsewhere.status).toBe(404)
    // A path that only starts like /sessions is not under it.
    const lookalike = await test.app.request('/sessionsx', { method: 'POST', headers: cross })
    expect(lookalike.status).toBe(404)
  })
})

describe('rejectCrossSite, its options', () => {
  function appWith(options: Parameters<typeof rejectCrossSite>[0]) {
    const app = new Hono()
    app.onError(handleError(captureLogs().logger))
    app.use(rejectCrossSite(options))
    app.all('/', (c) => c.text('ok'))
    return app
  }

  it('checks only the methods it is given, and no origin but its own by default', async () => {
    const cross = { headers: { Origin: EVIL } }
    const defaults = appWith(undefined)
    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE']) {
      expect((await defaults.request('/', { ...cross, method })).status, method).toBe(403)
    }
    for (const method of ['GET', 'HEAD', 'OPTIONS']) {
      expect((await defaults.request('/', { ...cross, method })).status, method).toBe(200)
    }
    const postOnly = appWith({ methods: ['POST'] })
    expect((await postOnly.request('/', { ...cross, method: 'DELETE' })).status).toBe(200)
    expect((await postOnly.request('/', { ...cross, method: 'POST' })).status).toBe(403)
    const listed = appWith({ allowedOrigins: [EVIL] })
    expect((await listed.request('/', { ...cross, method: 'POST' })).status).toBe(200)
  })
})
