import { Hono } from 'hono'
import { requestId } from 'hono/request-id'
import { describe, expect, it } from 'vitest'
import { accessLog } from '../../../src/http/middleware/access-log.js'
import { observeRequests } from '../../../src/http/middleware/request-observer.js'
import { captureLogs } from '../../support/logs.js'

describe('accessLog', () => {
  it('writes one line per request with method, matched route, status, duration and request id', async () => {
    const { logger, lines } = captureLogs()
    const app = new Hono()
      .use(requestId(), observeRequests(accessLog({ logger })))
      .get('/items/:id', (c) => c.text('ok', 202))
    const res = await app.request('/items/42', { headers: { 'X-Request-Id': 'abc' } })
    expect(res.status).toBe(202)
    expect(lines()).toEqual([
      expect.objectContaining({
        msg: 'request',
        method: 'GET',
        route: '/items/:id',
        status: 202,
        durationMs: expect.any(Number),
        requestId: 'abc',
      }),
    ])
  })

  it('skips the paths it is told to', async () => {
    const { logger, lines } = captureLogs()
    const app = new Hono()
      .use(requestId(), observeRequests(accessLog({ logger, skipPaths: ['/healthz'] })))
      .get('/healthz', (c) => c.text('ok'))
    await app.request('/healthz')
    expect(lines()).toEqual([])
  })
})
