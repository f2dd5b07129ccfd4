import { Hono } from 'hono'
import { describe, expect, it } from 'vitest'
import { requestMetrics } from '../../../src/http/middleware/request-metrics.js'
import { observeRequests } from '../../../src/http/middleware/request-observer.js'
import { createMetrics } from '../../../src/process/metrics.js'

describe('requestMetrics', () => {
  it('counts requests by method, matched route and status, with their durations', async () => {
    const metrics = createMetrics()
    const app = new Hono()
      .use(observeRequests(requestMetrics({ metrics })))
      .get('/items/:id', (c) => c.text('ok', 202))
    await app.request('/items/1')
    await app.request('/items/2')
    await app.request('/nowhere')
    const text = await metrics.registry.metrics()
    expect(text).toContain(
      'http_request_duration_seconds_count{method="GET",route="/items/:id",status="202"} 2',
    )
    expect(text).toContain('http_request_duration_seconds_count{method="GET",route="/*",status="404"} 1')
    expect(text).toMatch(
      /http_request_duration_seconds_sum\{method="GET",route="\/items\/:id",status="202"\} [0-9.e-]+/,
    )
  })

  it('keeps each app in its own registry', async () => {
    const [a, b] = [createMetrics(), createMetrics()]
    const app = new Hono().use(observeRequests(requestMetrics({ metrics: a }))).get('/x', (c) => c.text('x'))
    await app.request('/x')
    expect(await a.registry.metrics()).toContain('route="/x"')
    expect(await b.registry.metrics()).not.toContain('route="/x"')
  })
})

describe('createMetrics', () => {
  it('renders a Prometheus histogram: cumulative buckets with le, +Inf equal to the count, sum', async () => {
    const metrics = createMetrics()
    for (const seconds of [0.0005, 0.002, 0.002, 0.3, 42]) metrics.observeRequest('GET', '/x', 200, seconds)
    const text = await metrics.registry.metrics()
    const series = '{method="GET",route="/x",status="200"'
    expect(text).toContain('# TYPE http_request_duration_seconds histogram')
    expect(text).toContain(`http_request_duration_seconds_bucket${series},le="0.001"} 1`)
    expect(text).toContain(`http_request_duration_seconds_bucket${series},le="0.0025"} 3`)
    expect(text).toContain(`http_request_duration_seconds_bucket${series},le="0.25"} 3`)
    expect(text).toContain(`http_request_duration_seconds_bucket${series},le="0.5"} 4`)
    expect(text).toContain(`http_request_duration_seconds_bucket${series},le="10"} 4`)
    expect(text).toContain(`http_request_duration_seconds_bucket${series},le="+Inf"} 5`)
    expect(text).toContain(`http_request_duration_seconds_count${series}} 5`)
    expect(text).toMatch(/http_request_duration_seconds_sum\{method="GET",route="\/x",status="200"\} 42\.30/)
  })
})
