import { Hono } from 'hono'
import { HTTPException } from 'hono/http-exception'
import { requestId } from 'hono/request-id'
import { describe, expect, it } from 'vitest'
import { AppError, RedisUnavailableError } from '../../src/errors.js'
import { handleError, handleNotFound } from '../../src/middleware/error-handler.js'
import { captureLogs } from '../support/logs.js'

function appThrowing(error: unknown) {
  const { logger, lines } = captureLogs()
  const app = new Hono()
  app.onError(handleError(logger))
  app.notFound(handleNotFound)
  app.use(requestId())
  app.get('/boom', () => {
    throw error
  })
  return { app, lines }
}

describe('handleError', () => {
  it('keeps an AppError status, code, message and headers', async () => {
    const { app } = appThrowing(new AppError(409, 'conflict', 'Already there', { 'X-Hint': 'retry' }))
    const res = await app.request('/boom')
    expect(res.status).toBe(409)
    expect(res.headers.get('x-hint')).toBe('retry')
    expect(await res.json()).toEqual({ error: { code: 'conflict', message: 'Already there' } })
  })

  it('keeps an HTTPException status and gives it a code', async () => {
    const { app } = appThrowing(new HTTPException(400, { message: 'Malformed JSON in request body' }))
    const res = await app.request('/boom')
    expect(res.status).toBe(400)
    expect(await res.json()).toEqual({
      error: { code: 'bad_request', message: 'Malformed JSON in request body' },
    })
  })

  it('turns Redis trouble into 503 with Retry-After, without leaking the reason', async () => {
    const { app, lines } = appThrowing(new RedisUnavailableError('connect ECONNREFUSED 10.0.0.7:6379'))
    const res = await app.request('/boom')
    expect(res.status).toBe(503)
    expect(res.headers.get('retry-after')).toBe('1')
    const text = await res.text()
    expect(JSON.parse(text)).toMatchObject({ error: { code: 'redis_unavailable' } })
    expect(text).not.toContain('10.0.0.7')
    expect(lines()).toContainEqual(expect.objectContaining({ msg: 'redis unavailable' }))
  })

  it('answers anything else with a generic 500 and the request id, and logs the stack', async () => {
    const { app, lines } = appThrowing(new TypeError('secret internal detail'))
    const res = await app.request('/boom', { headers: { 'X-Request-Id': 'req-123' } })
    expect(res.status).toBe(500)
    const text = await res.text()
    expect(JSON.parse(text)).toEqual({
      error: { code: 'internal_error', message: 'Internal server error', requestId: 'req-123' },
    })
    expect(text).not.toContain('secret internal detail')
    const logged = lines().find((line) => line.msg === 'unhandled error')
    expect(logged).toMatchObject({
      requestId: 'req-123',
      err: { stack: expect.stringContaining('TypeError') },
    })
  })
})

describe('handleNotFound', () => {
  it('answers an unknown route with 404 JSON', async () => {
    const { app } = appThrowing(new Error('unused'))
    const res = await app.request('/nowhere', { method: 'PUT' })
    expect(res.status).toBe(404)
    expect(await res.json()).toEqual({ error: { code: 'not_found', message: 'No route for PUT /nowhere' } })
  })
})
