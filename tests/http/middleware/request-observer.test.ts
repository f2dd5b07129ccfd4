import { Hono } from 'hono'
import { requestId } from 'hono/request-id'
import { describe, expect, it } from 'vitest'
import { type ObservedRequest, observeRequests } from '../../../src/http/middleware/request-observer.js'

describe('observeRequests', () => {
  it('tells every observer about each request, with the matched route and one timing', async () => {
    const first: ObservedRequest[] = []
    const second: ObservedRequest[] = []
    const app = new Hono()
      .use(
        requestId(),
        observeRequests(
          (request) => first.push(request),
          (request) => second.push(request),
        ),
      )
      .get('/items/:id', async (c) => {
        await new Promise((resolve) => setTimeout(resolve, 20))
        return c.text('ok', 202)
      })
    await app.request('/items/42', { headers: { 'X-Request-Id': 'abc' } })
    expect(first).toEqual([
      {
        method: 'GET',
        route: '/items/:id',
        path: '/items/42',
        status: 202,
        durationMs: expect.any(Number),
        requestId: 'abc',
      },
    ])
    expect(first[0]?.durationMs).toBeGreaterThanOrEqual(19)
    expect(second).toEqual(first)
  })
})
