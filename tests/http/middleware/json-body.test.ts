import { request as httpRequest } from 'node:http'
import { connect } from 'node:net'
import { createRoute, z } from '@hono/zod-openapi'
import { describe, expect, inject, it } from 'vitest'
import { handleError } from '../../../src/http/middleware/error-handler.js'
import { jsonBody } from '../../../src/http/middleware/json-body.js'
import { apiRoutes } from '../../../src/http/openapi/routes.js'
import { keys } from '../../../src/redis/keys.js'
import { buildTestApp } from '../../support/app.js'
import { bufferName, servedUrl, tokenHeaders } from '../../support/buffers.js'
import { captureLogs } from '../../support/logs.js'

const echo = createRoute({
  method: 'post',
  path: '/things',
  request: { body: jsonBody(z.object({ name: z.string().default('none') })) },
  responses: { 200: { description: 'What it validated.' } },
})

/** A JSON route that echoes what it validated. */
function echoApp() {
  const app = apiRoutes().openapi(echo, (c) => c.json(c.req.valid('json'), 200))
  app.onError(handleError(captureLogs().logger))
  return app
}

/** Sends `raw` as it is on a fresh connection and resolves with everything the server answered. */
function rawRequest(host: string, port: number, raw: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port }, () => socket.write(raw))
    let answer = ''
    socket.setEncoding('utf8')
    socket.on('data', (chunk: string) => {
      answer += chunk
    })
    socket.on('end', () => resolve(answer))
    socket.on('error', reject)
  })
}

const post = (headers: Record<string, string>, body?: RequestInit['body']) =>
  echoApp().request('/things', { method: 'POST', headers, ...(body !== undefined && { body }) })

describe('jsonBody', () => {
  it.each([
    [
      'urlencoded, Content-Length 0',
      { 'Content-Type': 'application/x-www-form-urlencoded', 'Content-Length': '0' },
    ],
    ['urlencoded, no body', { 'Content-Type': 'application/x-www-form-urlencoded' }],
    ['multipart, no body', { 'Content-Type': 'multipart/form-data; boundary=x' }],
    ['text/plain, no body', { 'Content-Type': 'text/plain' }],
    ['an empty Content-Type', { 'Content-Type': '' }],
  ])(
    'refuses a request that names another media type with 415, whatever its length: %s',
    async (_, headers) => {
      const res = await post(headers)
      expect(res.status).toBe(415)
      expect(await res.json()).toMatchObject({ error: { code: 'unsupported_media_type' } })
    },
  )

  it('refuses a non-JSON body with 415, and a body without a Content-Type', async () => {
    expect((await post({ 'Content-Type': 'text/plain' }, '{"name":"x"}')).status).toBe(415)
    expect((await post({}, new TextEncoder().encode('{"name":"x"}'))).status).toBe(415)
  })

  it('validates {} for a request with neither a Content-Type nor a body', async () => {
    const res = await post({})
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ name: 'none' })
    const declaredEmpty = await post({ 'Content-Length': '0' })
    expect(declaredEmpty.status).toBe(200)
  })

  it('reads JSON media types, with parameters and structured suffixes', async () => {
    for (const type of [
      'application/json',
      'application/json; charset=utf-8',
      'application/merge-patch+json',
    ]) {
      const res = await post({ 'Content-Type': type }, '{"name":"x"}')
      expect(res.status, type).toBe(200)
      expect(await res.json()).toEqual({ name: 'x' })
    }
  })
})

describe('POST /sessions sent by an HTML form', async () => {
  const { app } = await buildTestApp(inject('redisUrl'), { RATE_LIMIT_SESSIONS_PER_MINUTE: '100000' })

  it('is refused with 415 and sets no cookie, even empty (Content-Length: 0)', async () => {
    const res = await app.request('/sessions', {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'Content-Length': '0' },
    })
    expect(res.status).toBe(415)
    expect(res.headers.get('set-cookie')).toBeNull()
  })

  it('is refused with 415 over real HTTP, exactly as a form sends it', async () => {
    const { hostname, port } = new URL(await servedUrl(app))
    const { status, setCookie } = await new Promise<{ status?: number; setCookie?: string[] }>(
      (resolve, reject) => {
        const req = httpRequest(
          {
            host: hostname,
            port,
            method: 'POST',
            path: '/sessions',
            headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'Content-Length': '0' },
          },
          (res) => {
            res.resume()
            resolve({ status: res.statusCode, setCookie: res.headers['set-cookie'] })
          },
        )
        req.on('error', reject)
        req.end()
      },
    )
    expect(status).toBe(415)
    expect(setCookie).toBeUndefined()
  })

  it('still creates a session from a request with no Content-Type and no body', async () => {
    const res = await app.request('/sessions', { method: 'POST' })
    expect(res.status).toBe(201)
  })

  it('creates a session over real HTTP from a POST with no Content-Type, no Content-Length and no body', async () => {
    // What `curl -X POST` sends: no header announces a body, so there is none (RFC 9112, 6.3).
    const { hostname, port } = new URL(await servedUrl(app))
    const head = await rawRequest(
      hostname,
      Number(port),
      'POST /sessions HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    )
    expect(head).toMatch(/^HTTP\/1\.1 201 /)
    expect(head).toMatch(/^set-cookie: sid=/im)
  })

  it('still refuses over real HTTP a body sent without a Content-Type, chunked or with a length', async () => {
    const { hostname, port } = new URL(await servedUrl(app))
    const chunked =
      'POST /sessions HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n'
    const sized = 'POST /sessions HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}'
    expect(await rawRequest(hostname, Number(port), chunked)).toMatch(/^HTTP\/1\.1 415 /)
    expect(await rawRequest(hostname, Number(port), sized)).toMatch(/^HTTP\/1\.1 415 /)
  })
})

describe('values no schema may see, on every JSON route', async () => {
  const { app, client } = await buildTestApp(inject('redisUrl'))
  const json = { 'Content-Type': 'application/json' }
  const name = bufferName('json')
  const created = await app.request('/sessions', { method: 'POST' })
  const cookie = /sid=[^;]+/.exec(created.headers.get('set-cookie') ?? '')?.[0] ?? ''

  /** Each JSON route with `data` as raw JSON text inside its body. */
  const routes = (data: string): [string, Response | Promise<Response>][] => [
    ['POST /sessions', app.request('/sessions', { method: 'POST', headers: json, body: `{"data":${data}}` })],
    [
      'PATCH /sessions/current',
      app.request('/sessions/current', {
        method: 'PATCH',
        headers: { ...json, Cookie: cookie },
        body: `{"data":${data}}`,
      }),
    ],
    [
      'POST /buffers/:name/items (one item)',
      app.request(`/buffers/${name}/items`, {
        method: 'POST',
        headers: { ...json, ...tokenHeaders },
        body: `{"data":${data}}`,
      }),
    ],
    [
      'POST /buffers/:name/items (a batch)',
      app.request(`/buffers/${name}/items`, {
        method: 'POST',
        headers: { ...json, ...tokenHeaders },
        body: `{"items":[{"data":1},{"data":${data}}]}`,
      }),
    ],
  ]
  const pathPrefix = (route: string) => (route.includes('batch') ? 'items.1.data' : 'data')

  it('refuses a number too large to be finite (1e400) with 400 naming the field, never stores it as null', async () => {
    for (const [route, response] of routes('{"big":1e400}')) {
      const res = await response
      expect(res.status, route).toBe(400)
      expect(await res.json(), route).toEqual({
        error: {
          code: 'invalid_body',
          message: `${pathPrefix(route)}.big: number is out of range (not finite)`,
        },
      })
    }
    // A bare item value too, and -1e400.
    const bare = await app.request(`/buffers/${name}/items`, {
      method: 'POST',
      headers: { ...json, ...tokenHeaders },
      body: '{"data":-1e400}',
    })
    expect(bare.status).toBe(400)
    expect(await bare.json()).toMatchObject({ error: { code: 'invalid_body', message: /^data: / } })
  })

  it('refuses a "__proto__" key at any depth with 400 naming where, never drops it', async () => {
    for (const [route, response] of routes('{"profile":{"__proto__":{"admin":true},"name":"ada"}}')) {
      const res = await response
      expect(res.status, route).toBe(400)
      expect(await res.json(), route).toEqual({
        error: {
          code: 'invalid_body',
          message: `${pathPrefix(route)}.profile: "__proto__" is not allowed as a key`,
        },
      })
    }
    for (const body of ['{"__proto__":{}}', '{"data":[{"__proto__":1}]}']) {
      const res = await app.request('/sessions', { method: 'POST', headers: json, body })
      expect(res.status, body).toBe(400)
      expect(await res.json()).toMatchObject({ error: { code: 'invalid_body', message: /__proto__/ } })
    }
    // Nothing was stored by any of them.
    expect(await client.exists(keys.bufferItems(name))).toBe(0)
  })

  it('still takes large finite numbers, and "__proto__" as a value or inside a longer key', async () => {
    for (const [route, response] of routes('{"big":1e308,"k":"__proto__","__proto__x":1}')) {
      expect((await response).status, route).toBeLessThan(300)
    }
  })
})
