import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { buildTestApp } from '../support/app.js'
import { appendNumbers, bufferName, datas, openEvents, range, tokenHeaders } from '../support/buffers.js'
import { bearer, grantToken } from '../support/grants.js'
import { TestRedisServer } from '../support/redis-server.js'
import { sample, scrape } from '../support/scrape.js'

/** The `hrs_*` metrics count what happened, exactly: each family after the requests that move it. */

const redisUrl = inject('redisUrl')

const json = { 'Content-Type': 'application/json' }
const cookieOf = (res: Response) => /^[^;]+/.exec(res.headers.get('set-cookie') ?? '')?.[0] as string

describe('SSE metrics', async () => {
  const { app } = await buildTestApp(redisUrl, { SSE_HEARTBEAT_MS: '100', SSE_MAX_STREAMS_PER_SESSION: '1' })
  const value = async (name: string, labels?: Record<string, string>) =>
    sample(await scrape(app), name, labels) ?? Number.NaN

  it('counts live events per subscriber and the delivery lag once per item, at its fan-out', async () => {
    const name = bufferName()
    await appendNumbers(app, name, [0])
    const before = {
      sent: await value('hrs_sse_events_sent_total'),
      lagged: await value('hrs_sse_delivery_lag_seconds_count'),
      opened: await value('hrs_sse_streams_opened_total', { outcome: 'opened' }),
    }
    const [a, b] = [await openEvents(app, name), await openEvents(app, name)]
    expect(await value('hrs_sse_streams_open')).toBe(2)
    await appendNumbers(app, name, range(1, 3))
    expect(datas(await a.events(3))).toEqual(range(1, 3))
    expect(datas(await b.events(3))).toEqual(range(1, 3))
    const text = await scrape(app)
    expect(sample(text, 'hrs_sse_streams_opened_total', { outcome: 'opened' })).toBe(before.opened + 2)
    expect(sample(text, 'hrs_sse_events_sent_total')).toBe(before.sent + 6)
    expect(sample(text, 'hrs_sse_delivery_lag_seconds_count')).toBe(before.lagged + 3)
    // Appended and delivered on one machine within the test: well under a second each.
    expect(sample(text, 'hrs_sse_delivery_lag_seconds_bucket', { le: '1' })).toBe(before.lagged + 3)
    await Promise.all([a.close(), b.close()])
    await expect.poll(() => value('hrs_sse_streams_open')).toBe(0)
  })

  it('counts first-page and catch-up items as sent, catch-up pages, resets by reason and heartbeats', async () => {
    const name = bufferName()
    await appendNumbers(app, name, range(1, 150))
    const before = {
      sent: await value('hrs_sse_events_sent_total'),
      pages: await value('hrs_sse_catch_up_pages_total'),
      ahead: await value('hrs_sse_resets_total', { reason: 'ahead' }),
      heartbeats: await value('hrs_sse_heartbeats_total'),
    }
    // From the oldest: a full first page (100), then a catch-up page with the other 50.
    const earliest = await openEvents(app, name, { query: '?from=earliest' })
    expect(datas(await earliest.events(150))).toEqual(range(1, 150))
    // An id newer than the buffer's newest: reset `ahead`, then the buffer from its oldest item.
    const ahead = await openEvents(app, name, { headers: { 'Last-Event-ID': '99999999999999-0' } })
    const [reset] = await ahead.events(1)
    expect(reset?.event).toBe('reset')
    expect(datas(await ahead.events(100))).toEqual(range(1, 100))
    await new Promise((resolve) => setTimeout(resolve, 300))
    const text = await scrape(app)
    expect(sample(text, 'hrs_sse_catch_up_pages_total')).toBeGreaterThanOrEqual(before.pages + 1)
    expect(sample(text, 'hrs_sse_events_sent_total')).toBeGreaterThanOrEqual(before.sent + 250)
    expect(sample(text, 'hrs_sse_resets_total', { reason: 'ahead' })).toBe(before.ahead + 1)
    expect(sample(text, 'hrs_sse_heartbeats_total')).toBeGreaterThan(before.heartbeats)
    await Promise.all([earliest.close(), ahead.close()])
  })

  it('counts refusals by outcome: no stream slot left is `limited`', async () => {
    const name = bufferName()
    const created = await app.request('/sessions', {
      method: 'POST',
      headers: json,
      body: JSON.stringify({ grant: await grantToken({ read: [name] }) }),
    })
    const cookie = cookieOf(created)
    const before = await value('hrs_sse_streams_opened_total', { outcome: 'limited' })
    const first = await app.request(`/buffers/${name}/events`, { headers: { Cookie: cookie } })
    expect(first.status).toBe(200)
    const second = await app.request(`/buffers/${name}/events`, { headers: { Cookie: cookie } })
    expect(second.status).toBe(429)
    expect(await value('hrs_sse_streams_opened_total', { outcome: 'limited' })).toBe(before + 1)
    await first.body?.cancel()
  })

  it('counts a client cut for falling behind', async () => {
    const { app: small } = await buildTestApp(redisUrl, { SSE_QUEUE_MAX_EVENTS: '2' })
    const name = bufferName()
    await appendNumbers(small, name, [0])
    // In process: a client that does not read holds the stream back at once.
    const stalled = await openEvents(small, name, { inProcess: true })
    for (const n of range(1, 10)) await appendNumbers(small, name, [n])
    await expect
      .poll(async () => sample(await scrape(small), 'hrs_sse_slow_client_disconnects_total'))
      .toBe(1)
    await stalled.close()
  })
})

describe('append metrics', async () => {
  const { app } = await buildTestApp(redisUrl, { BODY_LIMIT_BYTES: '1024' })

  it('counts items, batches, and failures by the code of their error body', async () => {
    const name = bufferName()
    await appendNumbers(app, name, [1])
    await appendNumbers(app, name, range(2, 5))
    const post = (headers: Record<string, string>, body: string) =>
      app.request(`/buffers/${name}/items`, { method: 'POST', headers, body })
    expect((await post({ ...tokenHeaders, 'Content-Type': 'text/plain' }, '{}')).status).toBe(415)
    expect((await post(json, '{"data":1}')).status).toBe(401)
    expect((await post({ ...tokenHeaders, ...json }, '{"nope":1}')).status).toBe(400)
    // Refused by the body limit, before the route's own middleware.
    expect(
      (await post({ ...tokenHeaders, ...json }, JSON.stringify({ data: 'x'.repeat(2000) }))).status,
    ).toBe(413)
    const text = await scrape(app)
    expect(sample(text, 'hrs_buffer_items_appended_total')).toBe(5)
    expect(sample(text, 'hrs_buffer_append_batches_total')).toBe(2)
    expect(sample(text, 'hrs_buffer_append_failures_total', { code: 'unsupported_media_type' })).toBe(1)
    expect(sample(text, 'hrs_buffer_append_failures_total', { code: 'unauthorized' })).toBe(1)
    expect(sample(text, 'hrs_buffer_append_failures_total', { code: 'invalid_body' })).toBe(1)
    expect(sample(text, 'hrs_buffer_append_failures_total', { code: 'payload_too_large' })).toBe(1)
    // Other routes' failures are not appends.
    await app.request(`/buffers/${name}`, { method: 'DELETE' })
    expect(sample(await scrape(app), 'hrs_buffer_append_failures_total', { code: 'unauthorized' })).toBe(1)
  })
})

describe('session and authentication metrics', async () => {
  const { app } = await buildTestApp(redisUrl)

  it('counts sessions created, rotated and destroyed by reason', async () => {
    const create = async (cookie?: string) =>
      app.request('/sessions', {
        method: 'POST',
        headers: { ...json, ...(cookie && { Cookie: cookie }) },
        body: JSON.stringify({ grant: await grantToken({ sub: 'metrics-user' }) }),
      })
    const first = cookieOf(await create())
    // A grant exchanged with a live session's cookie: a new session, the old one ends.
    const second = cookieOf(await create(first))
    const rotated = cookieOf(
      await app.request('/sessions/current/rotate', { method: 'POST', headers: { Cookie: second } }),
    )
    expect(
      (await app.request('/sessions/current', { method: 'DELETE', headers: { Cookie: rotated } })).status,
    ).toBe(204)
    await create()
    await create()
    const revoked = await app.request('/users/metrics-user/sessions', {
      method: 'DELETE',
      headers: tokenHeaders,
    })
    expect(await revoked.json()).toEqual({ ended: 2 })
    const text = await scrape(app)
    expect(sample(text, 'hrs_sessions_created_total')).toBe(4)
    expect(sample(text, 'hrs_sessions_rotated_total')).toBe(1)
    expect(sample(text, 'hrs_sessions_destroyed_total', { reason: 'logout' })).toBe(1)
    expect(sample(text, 'hrs_sessions_destroyed_total', { reason: 'replaced' })).toBe(1)
    expect(sample(text, 'hrs_sessions_destroyed_total', { reason: 'revoked' })).toBe(2)
  })

  it('counts authentication failures by reason', async () => {
    const before = await scrape(app)
    const ended = cookieOf(await app.request('/sessions', { method: 'POST' }))
    await app.request('/sessions/current', { method: 'DELETE', headers: { Cookie: ended } })
    const failures: [string, Response | Promise<Response>][] = [
      ['missing', app.request('/metrics')],
      ['missing', app.request('/sessions/current')],
      ['invalid_token', app.request('/metrics', { headers: bearer('not-a-token') })],
      ['invalid_grant', app.request('/buffers/b/items', { headers: bearer('a.b.c') })],
      ['invalid_cookie', app.request('/sessions/current', { headers: { Cookie: 'sid=forged.signature' } })],
      ['unknown_session', app.request('/sessions/current', { headers: { Cookie: ended } })],
      ['unknown_session', app.request('/buffers/b/events', { headers: { Cookie: ended } })],
    ]
    for (const [, res] of failures) expect((await res).status).toBe(401)
    const after = await scrape(app)
    const counted = (reason: string) =>
      (sample(after, 'hrs_auth_failures_total', { reason }) ?? 0) -
      (sample(before, 'hrs_auth_failures_total', { reason }) ?? 0)
    for (const reason of ['missing', 'invalid_token', 'invalid_grant', 'invalid_cookie', 'unknown_session']) {
      expect(counted(reason), reason).toBe(failures.filter(([expected]) => expected === reason).length)
    }
    expect(counted('other')).toBe(0)
  })

  it('counts a session asked for without a grant where anonymous sessions are off', async () => {
    const { app: strict } = await buildTestApp(redisUrl, { SESSIONS_ANONYMOUS: 'false' })
    expect((await strict.request('/sessions', { method: 'POST' })).status).toBe(401)
    expect(sample(await scrape(strict), 'hrs_auth_failures_total', { reason: 'grant_required' })).toBe(1)
  })
})

describe('Redis metrics', () => {
  let server: TestRedisServer
  beforeAll(async () => {
    server = await TestRedisServer.start()
  })
  afterAll(async () => {
    await server.stop()
  })

  it('times commands by family, and counts reply errors', async () => {
    const { app, redis } = await buildTestApp(await server.url())
    const before = await scrape(app)
    const count = (text: string, family: string) =>
      sample(text, 'hrs_redis_command_duration_seconds_count', { family }) ?? Number.NaN
    const name = bufferName()
    await appendNumbers(app, name, [1])
    await app.request('/sessions', { method: 'POST' })
    await app.request('/readyz')
    // A script's error reply: a string where a stream should be.
    await redis.createScript("return redis.call('SET', KEYS[1], 'x')").exec(['hrs:buf:{wrong}:items'], [])
    await expect(
      redis.createScript("return redis.call('XLEN', KEYS[1])").exec(['hrs:buf:{wrong}:items'], []),
    ).rejects.toThrow(/WRONGTYPE/)
    const after = await scrape(app)
    expect(count(after, 'buffer')).toBeGreaterThanOrEqual(count(before, 'buffer') + 3)
    expect(count(after, 'session')).toBeGreaterThanOrEqual(count(before, 'session') + 1)
    expect(count(after, 'ping')).toBeGreaterThanOrEqual(count(before, 'ping') + 1)
    expect(sample(after, 'hrs_redis_command_errors_total', { class: 'reply' })).toBe(1)
  })

  it('shows an outage: connections down, not ready, connection errors, then the reconnects', async () => {
    const { app } = await buildTestApp(await server.url(), { REDIS_COMMAND_TIMEOUT_MS: '500' })
    const name = bufferName()
    const stream = await openEvents(app, name)
    const text = await scrape(app)
    expect(sample(text, 'hrs_redis_up', { role: 'commands' })).toBe(1)
    expect(sample(text, 'hrs_redis_up', { role: 'live_reader' })).toBe(1)
    expect(sample(text, 'hrs_ready')).toBe(1)

    await server.stop()
    await expect.poll(async () => sample(await scrape(app), 'hrs_redis_up', { role: 'commands' })).toBe(0)
    expect((await app.request('/sessions', { method: 'POST' })).status).toBe(503)
    const down = await scrape(app)
    expect(sample(down, 'hrs_ready')).toBe(0)
    expect(sample(down, 'hrs_redis_command_errors_total', { class: 'connection' })).toBeGreaterThanOrEqual(1)

    await server.restart()
    await expect
      .poll(
        async () => {
          const up = await scrape(app)
          return [
            sample(up, 'hrs_redis_up', { role: 'commands' }),
            sample(up, 'hrs_redis_up', { role: 'live_reader' }),
            sample(up, 'hrs_ready'),
            sample(up, 'hrs_redis_reconnects_total', { role: 'commands' }),
            sample(up, 'hrs_redis_reconnects_total', { role: 'live_reader' }),
          ]
        },
        { timeout: 10_000 },
      )
      .toEqual([1, 1, 1, 1, 1])
    expect(
      sample(await scrape(app), 'hrs_redis_live_reads_total', { outcome: 'error' }),
    ).toBeGreaterThanOrEqual(1)
    await stream.close()
  })

  it('counts a reply that never came as a timeout', async () => {
    const { app } = await buildTestApp(await server.url(), { REDIS_COMMAND_TIMEOUT_MS: '200' })
    server.freeze()
    try {
      expect((await app.request('/sessions', { method: 'POST' })).status).toBe(503)
    } finally {
      server.thaw()
    }
    expect(sample(await scrape(app), 'hrs_redis_command_errors_total', { class: 'timeout' })).toBe(1)
  })
})
