import { request as httpRequest } from 'node:http'
import { Hono } from 'hono'
import { describe, expect, inject, it } from 'vitest'
import { z } from 'zod'
import { handleError } from '../../../src/http/middleware/error-handler.js'
import { jsonBody } from '../../../src/http/middleware/json-body.js'
import { buildTestApp } from '../../support/app.js'
import { servedUrl } from '../../support/buffers.js'
import { captureLogs } from '../../support/logs.js'

/** A JSON route that echoes what it validated. */
function echoApp() {
  const app = new Hono()
  app.onError(handleError(captureLogs().logger))
  app.post('/things', jsonBody(z.object({ name: z.string().default('none') })), (c) =>
    c.json(c.req.valid('json')),
  )
  return app
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
})
