import { Hono } from 'hono'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { allowOrigins } from '../../../src/http/middleware/cors.js'
import { openEventStream } from '../../../src/sse/event-stream.js'
import { buildTestApp, type TestApp } from '../../support/app.js'
import { bufferName, openEvents } from '../../support/buffers.js'
import { commandsDuring } from '../../support/redis-commands.js'
import { TestRedisServer } from '../../support/redis-server.js'

const ALLOWED = 'https://app.example.com'
const ALSO_ALLOWED = 'http://localhost:5173'
const EVIL = 'https://evil.example'

/** Every Access-Control-* header of a response, by lower-case name. */
const corsHeaders = (res: Response) =>
  Object.fromEntries([...res.headers].filter(([name]) => name.startsWith('access-control-')))

const vary = (res: Response) => (res.headers.get('vary') ?? '').split(/,\s*/).filter(Boolean)

const preflight = (app: TestApp['app'], origin: string, path = '/sessions/current') =>
  app.request(path, {
    method: 'OPTIONS',
    headers: {
      Origin: origin,
      'Access-Control-Request-Method': 'PATCH',
      'Access-Control-Request-Headers': 'content-type',
    },
  })

describe('allowOrigins in the app, with ALLOWED_ORIGINS set', () => {
  // A Redis of its own: Redis's counts show that a preflight costs no command.
  let server: TestRedisServer
  let test: TestApp
  beforeAll(async () => {
    server = await TestRedisServer.start()
    test = await buildTestApp(await server.url(), { ALLOWED_ORIGINS: `${ALLOWED},${ALSO_ALLOWED}` })
  })
  afterAll(() => server.stop())

  it('answers a preflight from an allowed origin with 204 and its CORS headers, without a Redis command', async () => {
    let res: Response | undefined
    const commands = await commandsDuring(test.client, async () => {
      res = await preflight(test.app, ALLOWED)
    })
    if (!res) throw new Error('no response')
    expect(commands).toEqual({})
    expect(res.status).toBe(204)
    expect(res.headers.get('access-control-allow-origin')).toBe(ALLOWED)
    expect(res.headers.get('access-control-allow-credentials')).toBe('true')
    expect(res.headers.get('access-control-allow-methods')?.split(',')).toEqual(
      expect.arrayContaining(['GET', 'POST', 'PATCH', 'DELETE']),
    )
    expect(res.headers.get('access-control-allow-headers')?.toLowerCase().split(',')).toContain(
      'content-type',
    )
    expect(res.headers.get('access-control-max-age')).toBe('600')
    expect(vary(res)).toContain('Origin')
    // The pipeline's own headers are there too.
    expect(res.headers.get('x-request-id')).toBeTruthy()
    expect(res.headers.get('x-content-type-options')).toBe('nosniff')
    // The second origin of the list gets its own origin back, not the first.
    expect((await preflight(test.app, ALSO_ALLOWED)).headers.get('access-control-allow-origin')).toBe(
      ALSO_ALLOWED,
    )
  })

  it('answers a preflight even for POST /sessions, before its rate limit: still no Redis command', async () => {
    const commands = await commandsDuring(test.client, async () => {
      const res = await test.app.request('/sessions', {
        method: 'OPTIONS',
        headers: { Origin: ALLOWED, 'Access-Control-Request-Method': 'POST' },
      })
      expect(res.status).toBe(204)
    })
    expect(commands).toEqual({})
  })

  it('answers a preflight from an unlisted origin with 204 and no Access-Control-* header', async () => {
    const res = await preflight(test.app, EVIL)
    expect(res.status).toBe(204)
    expect(corsHeaders(res)).toEqual({})
    expect(vary(res)).toContain('Origin')
  })

  it('echoes an allowed origin on actual requests, with credentials, exposed headers and Vary: Origin', async () => {
    const res = await test.app.request('/sessions/current', { headers: { Origin: ALLOWED } })
    // An error too: the page can read why (401), and its request id.
    expect(res.status).toBe(401)
    expect(res.headers.get('access-control-allow-origin')).toBe(ALLOWED)
    expect(res.headers.get('access-control-allow-credentials')).toBe('true')
    expect(res.headers.get('access-control-expose-headers')?.split(/,\s*/)).toEqual(
      expect.arrayContaining(['X-Request-Id', 'Retry-After', 'WWW-Authenticate']),
    )
    expect(vary(res)).toEqual(['Origin'])
    const healthz = await test.app.request('/healthz', { headers: { Origin: ALLOWED } })
    expect(healthz.headers.get('access-control-allow-origin')).toBe(ALLOWED)
  })

  it('gives an unlisted origin no Access-Control-* header, and still varies by Origin', async () => {
    for (const origin of [EVIL, 'null', `${ALLOWED}.evil.example`, ALLOWED.replace('https', 'http')]) {
      const res = await test.app.request('/healthz', { headers: { Origin: origin } })
      expect(corsHeaders(res), origin).toEqual({})
      expect(vary(res), origin).toEqual(['Origin'])
    }
    // No Origin at all (same-origin GET, curl): the response may still differ from one with an Origin.
    const plain = await test.app.request('/healthz')
    expect(corsHeaders(plain)).toEqual({})
    expect(vary(plain)).toEqual(['Origin'])
  })

  it('puts the CORS headers in the head of an event stream served over real HTTP', async () => {
    const stream = await openEvents(test.app, bufferName('cors'), { headers: { Origin: ALLOWED } })
    expect(stream.response.headers.get('access-control-allow-origin')).toBe(ALLOWED)
    expect(stream.response.headers.get('access-control-allow-credentials')).toBe('true')
    expect(vary(stream.response)).toEqual(['Origin'])
    expect(await stream.nextBlock(2000)).toMatchObject({ id: '0-0' })
    await stream.close()
  })
})

describe('allowOrigins in the app, by default (no ALLOWED_ORIGINS)', async () => {
  const { app } = await buildTestApp(inject('redisUrl'))

  it('adds no CORS header and no Vary to any response', async () => {
    for (const origin of [ALLOWED, EVIL]) {
      const res = await app.request('/healthz', { headers: { Origin: origin } })
      expect(corsHeaders(res), origin).toEqual({})
      expect(res.headers.get('vary'), origin).toBeNull()
    }
  })

  it('leaves a preflight to the routes: none answers OPTIONS, so it is a 404 without CORS headers', async () => {
    const res = await preflight(app, ALLOWED)
    expect(res.status).toBe(404)
    expect(corsHeaders(res)).toEqual({})
  })
})

describe('allowOrigins, on its own', () => {
  it('never answers *, and echoes nothing when the list is empty', async () => {
    for (const origins of [[], [ALLOWED]]) {
      const app = new Hono().use(allowOrigins({ origins })).get('/', (c) => c.text('ok'))
      const res = await app.request('/', { headers: { Origin: '*' } })
      expect(corsHeaders(res), JSON.stringify(origins)).toEqual({})
    }
  })

  it('takes its exposed headers, allowed headers and max age from its options', async () => {
    const app = new Hono()
      .use(
        allowOrigins({
          origins: [ALLOWED],
          exposeHeaders: ['X-One'],
          allowHeaders: ['X-Two'],
          maxAgeSeconds: 5,
        }),
      )
      .get('/', (c) => c.text('ok'))
    const res = await app.request('/', { headers: { Origin: ALLOWED } })
    expect(res.headers.get('access-control-expose-headers')).toBe('X-One')
    const pre = await app.request('/', {
      method: 'OPTIONS',
      headers: { Origin: ALLOWED, 'Access-Control-Request-Method': 'GET' },
    })
    expect(pre.headers.get('access-control-allow-headers')).toBe('X-Two')
    expect(pre.headers.get('access-control-max-age')).toBe('5')
  })

  it("puts every header, Vary included, in an event stream's head on Node (written before next() returns)", async () => {
    // hono/cors appends Vary after next(): an event stream's head is on the wire by then.
    const app = new Hono().use(allowOrigins({ origins: [ALLOWED] })).get('/events', (c) => {
      const stream = openEventStream(c)
      stream.sink.write('data: one\n\n')
      stream.end()
      return stream.response
    })
    const { serve } = await import('@hono/node-server')
    const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' })
    await new Promise((resolve) => server.once('listening', resolve))
    try {
      const { port } = server.address() as { port: number }
      const res = await fetch(`http://127.0.0.1:${port}/events`, { headers: { Origin: ALLOWED } })
      expect(res.status).toBe(200)
      expect(res.headers.get('access-control-allow-origin')).toBe(ALLOWED)
      expect(res.headers.get('access-control-allow-credentials')).toBe('true')
      expect(vary(res)).toEqual(['Origin'])
      expect(await res.text()).toBe('data: one\n\n')
    } finally {
      server.close()
    }
  })
})
