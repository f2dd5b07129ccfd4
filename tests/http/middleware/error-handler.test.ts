import { Hono } from 'hono'
import { HTTPException } from 'hono/http-exception'
import { requestId } from 'hono/request-id'
import { describe, expect, it } from 'vitest'
import { handleError, handleNotFound } from '../../../src/http/middleware/error-handler.js'
import { type FailureKind, ServiceError } from '../../../src/lib/errors.js'
import { RedisUnavailableError } from '../../../src/redis/failures.js'
import { captureLogs } from '../../support/logs.js'

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
  it.each([
    ['invalid', 400],
    ['unauthenticated', 401],
    ['forbidden', 403],
    ['not_found', 404],
    ['too_large', 413],
    ['unsupported', 415],
    ['unavailable', 503],
    ['rate_limited', 429],
  ] as [FailureKind, number][])(
    'answers a ServiceError of kind %s with %i, its code and message',
    async (kind, status) => {
      const { app } = appThrowing(new ServiceError(kind, 'some_code', 'What went wrong'))
      const res = await app.request('/boom')
      expect(res.status).toBe(status)
      expect(await res.json()).toEqual({ error: { code: 'some_code', message: 'What went wrong' } })
    },
  )

  it('sends the challenge of an unauthenticated ServiceError as WWW-Authenticate', async () => {
    const error = new ServiceError('unauthenticated', 'unauthorized', 'Token needed', { challenge: 'Bearer' })
    const res = await appThrowing(error).app.request('/boom')
    expect(res.status).toBe(401)
    expect(res.headers.get('www-authenticate')).toBe('Bearer')
    const plain = await appThrowing(new ServiceError('unauthenticated', 'unauthorized', 'No')).app.request(
      '/boom',
    )
    expect(plain.headers.get('www-authenticate')).toBeNull()
  })

  it('sends the Retry-After of a rate_limited ServiceError when it has one', async () => {
    const limited = new ServiceError('rate_limited', 'rate_limited', 'Slow down', { retryAfterSeconds: 12 })
    const res = await appThrowing(limited).app.request('/boom')
    expect(res.status).toBe(429)
    expect(res.headers.get('retry-after')).toBe('12')
    const unknown = await appThrowing(new ServiceError('rate_limited', 'too_many_streams', 'No')).app.request(
      '/boom',
    )
    expect(unknown.headers.get('retry-after')).toBeNull()
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

  it('answers an EventSource (a GET asking for a stream) with a retry, and a write asking the same with 503', async () => {
    const { logger } = captureLogs()
    const app = new Hono()
    app.onError(handleError(logger, { eventStreamRetryMs: 2000 }))
    app.on(['GET', 'POST'], '/boom', () => {
      throw new RedisUnavailableError('connection lost')
    })
    const accept = { Accept: 'text/event-stream' }
    const read = await app.request('/boom', { headers: accept })
    expect(read.status).toBe(200)
    expect(await read.text()).toContain('retry: 2000')
    const write = await app.request('/boom', { method: 'POST', headers: accept })
    expect(write.status).toBe(503)
    expect(await write.json()).toMatchObject({ error: { code: 'redis_unavailable' } })
  })

  it('tells a client whose body had another media type what to send', async () => {
    const { app } = appThrowing(new HTTPException(415))
    const res = await app.request('/boom')
    expect(res.status).toBe(415)
    expect(await res.json()).toEqual({
      error: { code: 'unsupported_media_type', message: 'Send the body as application/json' },
    })
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
