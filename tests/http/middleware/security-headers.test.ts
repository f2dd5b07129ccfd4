import type { AddressInfo } from 'node:net'
import { serve } from '@hono/node-server'
import { Hono, type MiddlewareHandler } from 'hono'
import { secureHeaders } from 'hono/secure-headers'
import { afterAll, describe, expect, inject, it } from 'vitest'
import { handleError } from '../../../src/http/middleware/error-handler.js'
import { securityHeaders } from '../../../src/http/middleware/security-headers.js'
import { openEventStream } from '../../../src/sse/event-stream.js'
import { buildTestApp } from '../../support/app.js'
import { bufferName, openEvents } from '../../support/buffers.js'
import { captureLogs } from '../../support/logs.js'

function expectSecurityHeaders(res: Response, label: string) {
  expect(res.headers.get('x-content-type-options'), label).toBe('nosniff')
  expect(res.headers.get('referrer-policy'), label).toBe('no-referrer')
}

function sidCookie(res: Response): string {
  const match = /(?:^|,\s*)(sid=[^;]*)/.exec(res.headers.get('set-cookie') ?? '')
  if (!match?.[1]) throw new Error(`no sid cookie: ${res.status}`)
  return match[1]
}

describe('securityHeaders in the app', async () => {
  const { app } = await buildTestApp(inject('redisUrl'), { RATE_LIMIT_SESSIONS_PER_MINUTE: '100000' })
  const created = await app.request('/sessions', { method: 'POST' })
  const cookie = sidCookie(created)

  it('reaches every kind of response: JSON, errors, 404, the page, health', async () => {
    const responses: [string, Response][] = [
      ['201 POST /sessions', created],
      ['200 GET /sessions/current', await app.request('/sessions/current', { headers: { Cookie: cookie } })],
      ['401 GET /sessions/current', await app.request('/sessions/current')],
      [
        '415 POST /sessions',
        await app.request('/sessions', {
          method: 'POST',
          headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        }),
      ],
      [
        '400 POST /sessions',
        await app.request('/sessions', {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: '{nope',
        }),
      ],
      [
        '403 cross-site',
        await app.request('/sessions', { method: 'POST', headers: { Origin: 'https://evil.example' } }),
      ],
      ['404', await app.request('/nowhere')],
      ['page', await app.request('/')],
      ['/healthz', await app.request('/healthz')],
      ['/readyz', await app.request('/readyz')],
    ]
    expect(responses.map(([label, res]) => `${label}: ${res.status}`)).toEqual([
      '201 POST /sessions: 201',
      '200 GET /sessions/current: 200',
      '401 GET /sessions/current: 401',
      '415 POST /sessions: 415',
      '400 POST /sessions: 400',
      '403 cross-site: 403',
      '404: 404',
      'page: 200',
      '/healthz: 200',
      '/readyz: 200',
    ])
    for (const [label, res] of responses) expectSecurityHeaders(res, label)
  })

  it('reaches an event stream served over real HTTP (its head is written before next() returns)', async () => {
    const stream = await openEvents(app, bufferName('headers'))
    expectSecurityHeaders(stream.response, 'SSE')
    expect(stream.response.headers.get('cache-control')).toBe('no-cache')
    await stream.close()
  })

  it('marks every response that carries a session (they all set its cookie) no-store', async () => {
    const current = await app.request('/sessions/current', { headers: { Cookie: cookie } })
    expect(current.status).toBe(200)
    expect(current.headers.get('cache-control')).toBe('no-store')
    expect(created.headers.get('cache-control')).toBe('no-store')
    // A 401 carries no session and sets no cookie.
    expect((await app.request('/sessions/current')).headers.get('set-cookie')).toBeNull()
    const again = await app.request('/sessions', { method: 'POST' })
    const ended = await app.request('/sessions/current', {
      method: 'DELETE',
      headers: { Cookie: sidCookie(again) },
    })
    expect(ended.status).toBe(204)
    expect(ended.headers.get('cache-control')).toBe('no-store')
  })

  it("keeps other responses' own caching: the page revalidates, liveness is never stored, a 404 says nothing", async () => {
    const page = await app.request('/')
    expect(page.headers.get('cache-control')).toBe('no-cache')
    expect((await app.request('/healthz')).headers.get('cache-control')).toBe('no-store')
    expect((await app.request('/nowhere')).headers.get('cache-control')).toBeNull()
  })

  it("forbids framing the page (frame-ancestors 'none') and keeps the rest of its CSP", async () => {
    const csp = (await app.request('/')).headers.get('content-security-policy') ?? ''
    expect(csp.split('; ')).toEqual(
      expect.arrayContaining([
        "default-src 'self'",
        "frame-ancestors 'none'",
        "script-src 'self' 'unsafe-inline'",
      ]),
    )
  })
})

describe('securityHeaders, on its own', () => {
  function appWith() {
    const app = new Hono()
    app.onError(handleError(captureLogs().logger))
    app.use(securityHeaders())
    app.get('/cookie', (c) => {
      c.header('Set-Cookie', 'a=1; Path=/')
      return c.json({ ok: true })
    })
    app.get('/private/list', (c) => c.json([]))
    app.get('/plain', (c) => c.json({}))
    app.get('/boom', () => {
      throw new Error('boom')
    })
    return app
  }

  it('marks any response that sets a cookie no-store, and only those', async () => {
    const app = appWith()
    expect((await app.request('/cookie')).headers.get('cache-control')).toBe('no-store')
    expect((await app.request('/plain')).headers.get('cache-control')).toBeNull()
  })

  it('reaches a 500 from a thrown error', async () => {
    const res = await appWith().request('/boom')
    expect(res.status).toBe(500)
    expectSecurityHeaders(res, '500')
  })
})

describe('an event stream on Node, with security headers', () => {
  const servers: { close(): void }[] = []
  afterAll(() => {
    for (const server of servers) server.close()
  })

  /** `app` served by @hono/node-server, as main.ts serves it: streams take the direct path. */
  async function served(app: Hono): Promise<string> {
    const port = await new Promise<number>((resolve) => {
      servers.push(
        serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info: AddressInfo) =>
          resolve(info.port),
        ),
      )
    })
    return `http://127.0.0.1:${port}`
  }

  const streamApp = (middleware: MiddlewareHandler) =>
    new Hono().use(middleware).get('/events', (c) => {
      if (c.req.query('cookie') !== undefined)
        c.header('Set-Cookie', 'sid=x; Path=/; HttpOnly', { append: true })
      const stream = openEventStream(c)
      stream.sink.write('data: one\n\n')
      stream.end()
      return stream.response
    })

  it('carries them, and says no-store instead of no-cache when it sets a cookie', async () => {
    const base = await served(streamApp(securityHeaders()))
    const plain = await fetch(`${base}/events`)
    expectSecurityHeaders(plain, 'stream')
    expect(plain.headers.get('cache-control')).toBe('no-cache')
    expect(await plain.text()).toBe('data: one\n\n')
    const withCookie = await fetch(`${base}/events?cookie`)
    expectSecurityHeaders(withCookie, 'stream with a cookie')
    expect(withCookie.headers.get('set-cookie')).toBe('sid=x; Path=/; HttpOnly')
    expect(withCookie.headers.get('cache-control')).toBe('no-store')
    expect(await withCookie.text()).toBe('data: one\n\n')
  })

  it('says no-store for a cookie on the web path too (app.request)', async () => {
    const res = await streamApp(securityHeaders()).request('/events?cookie')
    expect(res.headers.get('cache-control')).toBe('no-store')
    expectSecurityHeaders(res, 'web stream')
    await res.body?.cancel()
  })

  it("is why hono/secure-headers is not used: it sets its headers after next(), which a stream's head never sees", async () => {
    const base = await served(streamApp(secureHeaders()))
    const res = await fetch(`${base}/events`)
    expect(res.headers.get('x-content-type-options')).toBeNull()
    await res.text()
  })
})
