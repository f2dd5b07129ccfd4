import { describe, expect, inject, it } from 'vitest'
import { buildTestApp } from '../../support/app.js'
import { TEST_API_TOKEN } from '../../support/env.js'

const { app } = await buildTestApp(inject('redisUrl'))

describe('GET /metrics', () => {
  it('requires the API token', async () => {
    const res = await app.request('/metrics')
    expect(res.status).toBe(401)
    expect(await res.json()).toMatchObject({ error: { code: 'unauthorized' } })
  })

  it('exposes request durations and process metrics in the Prometheus text format', async () => {
    await app.request('/sessions/current')
    const res = await app.request('/metrics', { headers: { Authorization: `Bearer ${TEST_API_TOKEN}` } })
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/)
    const text = await res.text()
    expect(text).toMatch(
      /http_request_duration_seconds_count\{method="GET",route="\/sessions\/current",status="401"\} 1/,
    )
    expect(text).toContain('process_cpu_user_seconds_total')
    expect(text).toContain('nodejs_eventloop_lag_seconds')
  })
})
