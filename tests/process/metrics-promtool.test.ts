import { describe, expect, inject, it } from 'vitest'
import { buildTestApp } from '../support/app.js'
import { appendNumbers, bufferName, datas, openEvents, range, tokenHeaders } from '../support/buffers.js'
import { PROMTOOL_MISSING, promtool, promtoolVersion } from '../support/promtool.js'
import { families, sample, scrape } from '../support/scrape.js'

/**
 * A real scrape, after a short mixed load, passes `promtool check metrics`: the check Prometheus's own
 * tooling makes of names, types, suffixes and help (a gauge named `*_total` fails it, as prom-client's
 * default `nodejs_active_handles_total` did).
 */

const METRICS_TOKEN = 'test-metrics-token-0123456789abcdefghijklmn-01'

describe('GET /metrics after a mixed load', async () => {
  const { app } = await buildTestApp(inject('redisUrl'), {
    METRICS_TOKEN,
    SSE_HEARTBEAT_MS: '100',
  })

  async function mixedLoad() {
    const name = bufferName('promtool')
    // Sessions: created, read, patched, rotated, ended; a read without and with a forged cookie.
    const created = await app.request('/sessions', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ data: { n: 1 } }),
    })
    expect(created.status).toBe(201)
    let cookie = /^[^;]+/.exec(created.headers.get('set-cookie') ?? '')?.[0] as string
    expect((await app.request('/sessions/current', { headers: { Cookie: cookie } })).status).toBe(200)
    const rotated = await app.request('/sessions/current/rotate', {
      method: 'POST',
      headers: { Cookie: cookie },
    })
    cookie = /^[^;]+/.exec(rotated.headers.get('set-cookie') ?? '')?.[0] as string
    expect(
      (await app.request('/sessions/current', { method: 'DELETE', headers: { Cookie: cookie } })).status,
    ).toBe(204)
    expect((await app.request('/sessions/current')).status).toBe(401)
    expect((await app.request('/sessions/current', { headers: { Cookie: 'sid=forged.x' } })).status).toBe(401)

    // A subscriber over real HTTP, live items, a heartbeat, appends that fail.
    const stream = await openEvents(app, name)
    await appendNumbers(app, name, [1])
    await appendNumbers(app, name, range(2, 5))
    expect(datas(await stream.events(5))).toEqual(range(1, 5))
    await new Promise((resolve) => setTimeout(resolve, 250))
    const refused = await app.request(`/buffers/${name}/items`, {
      method: 'POST',
      headers: { ...tokenHeaders, 'Content-Type': 'text/plain' },
      body: 'x',
    })
    expect(refused.status).toBe(415)
    expect((await app.request(`/buffers/${name}/items`, { method: 'POST' })).status).toBe(401)
    expect((await app.request('/no/such/path')).status).toBe(404)
    return stream
  }

  it(`passes promtool check metrics${PROMTOOL_MISSING}`, async ({ skip }) => {
    if (!promtoolVersion) skip(PROMTOOL_MISSING)
    const stream = await mixedLoad()
    const text = await scrape(app, METRICS_TOKEN)
    await stream.close()

    const check = promtool(['check', 'metrics'], text)
    expect(check.output).toBe('')
    expect(check.status).toBe(0)

    // The load shows in the scrape: one of each family.
    const declared = families(text)
    expect(declared.get('hrs_sse_delivery_lag_seconds')).toBe('histogram')
    expect(declared.has('nodejs_active_handles_total')).toBe(false)
    expect(sample(text, 'hrs_sse_streams_open')).toBe(1)
    expect(sample(text, 'hrs_buffer_items_appended_total')).toBe(5)
    expect(sample(text, 'hrs_buffer_append_failures_total', { code: 'unsupported_media_type' })).toBe(1)
    expect(sample(text, 'hrs_sessions_rotated_total')).toBe(1)
    expect(sample(text, 'hrs_redis_up', { role: 'live_reader' })).toBe(1)
    expect(sample(text, 'http_request_duration_seconds_count', { route: '/*', status: '404' })).toBe(1)
  })
})
