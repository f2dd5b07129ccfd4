import { Hono } from 'hono'
import { describe, expect, inject, it } from 'vitest'
import { apiToken, tokenOrSession } from '../../../src/http/middleware/auth.js'
import { handleError } from '../../../src/http/middleware/error-handler.js'
import { createLogger } from '../../../src/process/logger.js'
import { buildTestApp } from '../../support/app.js'
import { TEST_API_TOKEN } from '../../support/env.js'

const OTHER_TOKEN = 'another-api-token-0123456789abcdefghijklmn'

describe('apiToken', () => {
  const app = new Hono()
  app.onError(handleError(createLogger('silent')))
  app.get('/w', apiToken({ tokens: [TEST_API_TOKEN, OTHER_TOKEN] }), (c) => c.text('ok'))
  const status = async (authorization?: string) =>
    (
      await app.request('/w', {
        headers: authorization === undefined ? {} : { Authorization: authorization },
      })
    ).status

  it('passes any accepted token, case-insensitive scheme', async () => {
    expect(await status(`Bearer ${TEST_API_TOKEN}`)).toBe(200)
    expect(await status(`bearer ${OTHER_TOKEN}`)).toBe(200)
  })

  it('refuses a missing, wrong, truncated, extended or non-Bearer credential with 401 and a challenge', async () => {
    for (const header of [
      undefined,
      '',
      'Bearer',
      `Bearer ${TEST_API_TOKEN.slice(0, -1)}`,
      `Bearer ${TEST_API_TOKEN}x`,
      `Basic ${TEST_API_TOKEN}`,
      `Bearer ${TEST_API_TOKEN} ${TEST_API_TOKEN}`,
    ]) {
      const res = await app.request('/w', { headers: header === undefined ? {} : { Authorization: header } })
      expect(res.status, String(header)).toBe(401)
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/)
      expect(await res.json()).toMatchObject({ error: { code: 'unauthorized' } })
    }
  })
})

describe('tokenOrSession', async () => {
  const { app } = await buildTestApp(inject('redisUrl'))
  // Mounted on the real app, so the session middleware runs first, as in production.
  app.get('/test-reader', tokenOrSession({ tokens: [TEST_API_TOKEN] }), (c) => c.text('read'))

  it('passes a valid token without a session, and a live session without a token', async () => {
    expect(
      (await app.request('/test-reader', { headers: { Authorization: `Bearer ${TEST_API_TOKEN}` } })).status,
    ).toBe(200)
    const created = await app.request('/sessions', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: '{}',
    })
    const cookie = /^[^;]+/.exec(created.headers.get('set-cookie') ?? '')?.[0] as string
    const res = await app.request('/test-reader', { headers: { Cookie: cookie } })
    expect(res.status).toBe(200)
    expect(res.headers.get('set-cookie')).toMatch(/Max-Age=/)
    // A wrong token is refused even next to a valid session: it is a misconfigured client.
    const both = await app.request('/test-reader', {
      headers: { Cookie: cookie, Authorization: 'Bearer nope' },
    })
    expect(both.status).toBe(401)
  })

  it('refuses neither, and a forged or ended session, with 401', async () => {
    expect((await app.request('/test-reader')).status).toBe(401)
    expect((await app.request('/test-reader', { headers: { Cookie: 'sid=forged.value' } })).status).toBe(401)
    const created = await app.request('/sessions', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: '{}',
    })
    expect(created.status).toBe(201)
    const cookie = /^[^;]+/.exec(created.headers.get('set-cookie') ?? '')?.[0] as string
    expect((await app.request('/test-reader', { headers: { Cookie: cookie } })).status).toBe(200)
    const ended = await app.request('/sessions/current', { method: 'DELETE', headers: { Cookie: cookie } })
    expect(ended.status).toBe(204)
    const res = await app.request('/test-reader', { headers: { Cookie: cookie } })
    expect(res.status).toBe(401)
    expect(await res.json()).toMatchObject({ error: { code: 'unauthorized' } })
  })
})
