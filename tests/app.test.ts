import { describe, expect, inject, it } from 'vitest'
import { buildTestApp } from './support/app.js'

const { app } = await buildTestApp(inject('redisUrl'), { BODY_LIMIT_BYTES: '2048' })

describe('createApp', () => {
  it('gives every response an X-Request-Id, errors included', async () => {
    for (const path of ['/healthz', '/readyz', '/nowhere', '/sessions/current']) {
      const res = await app.request(path)
      expect(res.headers.get('x-request-id'), path).toMatch(/^[0-9a-f-]{36}$/)
    }
  })

  it('answers an unknown route with 404 JSON', async () => {
    const res = await app.request('/nowhere')
    expect(res.status).toBe(404)
    expect(res.headers.get('content-type')).toMatch(/^application\/json/)
    expect(await res.json()).toMatchObject({ error: { code: 'not_found' } })
  })

  it('answers malformed JSON with 400 JSON', async () => {
    const res = await app.request('/sessions', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: '{not json',
    })
    expect(res.status).toBe(400)
    expect(await res.json()).toMatchObject({ error: { code: 'bad_request' } })
  })

  it('answers a body over BODY_LIMIT_BYTES with 413 JSON, with or without Content-Length', async () => {
    const body = JSON.stringify({ data: { big: 'x'.repeat(3000) } })
    const declared = await app.request('/sessions', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body,
    })
    expect(declared.status).toBe(413)
    expect(await declared.json()).toMatchObject({ error: { code: 'payload_too_large' } })
    const streamed = await app.request('/sessions', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: new Blob([body]).stream(),
      duplex: 'half',
    } as RequestInit)
    expect(streamed.status).toBe(413)
  })

  it('serves liveness as application/health+json, never cached', async () => {
    const res = await app.request('/healthz')
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('application/health+json')
    expect(res.headers.get('cache-control')).toBe('no-store')
    expect(await res.json()).toEqual({ status: 'pass' })
  })

  it('reports readiness with the Redis response time in the health-check draft format', async () => {
    const res = await app.request('/readyz')
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('application/health+json')
    expect(res.headers.get('cache-control')).toBe('no-store')
    const body = (await res.json()) as { checks: Record<string, unknown[]> }
    expect(body).toMatchObject({ status: 'pass' })
    expect(body.checks['redis:responseTime']).toEqual([
      { status: 'pass', observedValue: expect.any(Number), observedUnit: 'ms', time: expect.any(String) },
    ])
  })

  it('fails readiness with "shutting down" once shutdown has begun, while liveness passes', async () => {
    const { app: stopping } = await buildTestApp(inject('redisUrl'))
    stopping.lifecycle.beginShutdown()
    const res = await stopping.request('/readyz')
    expect(res.status).toBe(503)
    expect(await res.json()).toEqual({ status: 'fail', output: 'shutting down' })
    expect((await stopping.request('/healthz')).status).toBe(200)
  })
})
