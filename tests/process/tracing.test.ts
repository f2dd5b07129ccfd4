import { createHash } from 'node:crypto'
import { createRequire } from 'node:module'
import { SpanKind } from '@opentelemetry/api'
import { isWrapped } from '@opentelemetry/instrumentation'
import { InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-node'
import { afterAll, beforeEach, describe, expect, inject, it } from 'vitest'
import { redisCommandText, startTracing } from '../../src/process/tracing.js'
import { keys } from '../../src/redis/keys.js'
import { readLuaScript } from '../../src/redis/scripts.js'
import { TEST_API_TOKEN } from '../support/env.js'

/**
 * The spans of real requests, through the SDK's in-memory exporter: tracing is started as main.ts starts
 * it, before anything loads `redis`. Nothing imported above loads it (vitest runs each test file in a new
 * worker process, and no setup file of this project loads it there); everything that does is imported
 * below, after startTracing, and the first test proves that the instrumentation did patch it.
 */

const exporter = new InMemorySpanExporter()
const tracing = startTracing({ spanProcessor: new SimpleSpanProcessor(exporter) })
afterAll(() => tracing.shutdown(5000))

const [{ buildTestApp }, { bufferName, openEvents, tokenHeaders }, { StreamSlots }] = await Promise.all([
  import('../support/app.js'),
  import('../support/buffers.js'),
  import('../../src/limits/stream-slots.js'),
])
// The class the instrumentation patches, as node-redis itself requires it. Not with `import()`: as the
// first to load it, the ESM loader would hide the load from the require hook, which would then meet the
// module half-loaded through one of its own circular requires.
const { default: RedisClient } = createRequire(import.meta.url)('@redis/client/dist/lib/client/index.js') as {
  default: { prototype: Record<string, unknown> }
}

/** The overrides that turn tracing on; the endpoint is never used: spans go to the in-memory exporter. */
const TRACING_ON = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' }

const sha1 = (text: string) => createHash('sha1').update(text).digest('hex')

/** Every string a span would export: names, attributes, events, status, resource. */
const exportedText = (spans: readonly ReadableSpan[]) =>
  JSON.stringify(
    spans.map((span) => ({
      name: span.name,
      attributes: span.attributes,
      events: span.events,
      status: span.status,
      resource: span.resource.attributes,
    })),
  )

const childrenOf = (parent: ReadableSpan, spans: readonly ReadableSpan[]) =>
  spans.filter((span) => span.parentSpanContext?.spanId === parent.spanContext().spanId)

beforeEach(() => exporter.reset())

describe('tracing: the spans of one append', () => {
  it('the Redis instrumentation patched node-redis, loaded after tracing started', () => {
    expect(isWrapped(RedisClient.prototype.sendCommand)).toBe(true)
  })

  it('one HTTP server span for the route, with the append script as its Redis child; no secret in any span', async () => {
    const { app } = await buildTestApp(inject('redisUrl'), TRACING_ON)
    const name = bufferName('traced')
    const itemData = `item-data-${sha1(name)}`
    const cookie = `sid=cookie-value-${sha1(itemData)}`
    exporter.reset()

    const res = await app.request(`/buffers/${name}/items`, {
      method: 'POST',
      headers: { ...tokenHeaders, 'Content-Type': 'application/json', Cookie: cookie },
      body: JSON.stringify({ data: { note: itemData } }),
    })
    expect(res.status).toBe(201)

    const spans = exporter.getFinishedSpans()
    const servers = spans.filter((span) => span.kind === SpanKind.SERVER)
    expect(servers.map((span) => span.name)).toEqual(['POST /buffers/:name/items'])
    const [http] = servers as [ReadableSpan]
    expect(http.parentSpanContext).toBeUndefined()
    expect(http.attributes).toMatchObject({
      'http.request.method': 'POST',
      'http.route': '/buffers/:name/items',
      'http.response.status_code': 201,
    })
    expect(http.resource.attributes['service.name']).toBe('hono-redis-service')

    const redis = childrenOf(http, spans)
    expect(redis.length).toBeGreaterThanOrEqual(1)
    for (const span of redis) {
      expect(span.kind).toBe(SpanKind.CLIENT)
      expect(span.spanContext().traceId).toBe(http.spanContext().traceId)
      expect(span.attributes['db.system.name']).toBe('redis')
    }
    // The append script by its SHA (followed by an EVAL when this Redis had not seen the script yet).
    expect(redis.map((span) => span.attributes['db.query.text'])).toContain(
      `EVALSHA ${sha1(readLuaScript('buffer-append'))}`,
    )
    // Every span of the request is the HTTP span or its child: nothing started a trace of its own.
    expect(spans.filter((span) => span !== http && !redis.includes(span))).toEqual([])

    const text = exportedText(spans)
    expect(text).not.toContain(TEST_API_TOKEN)
    expect(text).not.toContain(itemData)
    expect(text).not.toContain(cookie.slice('sid='.length))
  })

  it('probes are not traced', async () => {
    const { app } = await buildTestApp(inject('redisUrl'), TRACING_ON)
    exporter.reset()
    expect((await app.request('/readyz')).status).toBe(200)
    expect((await app.request('/healthz')).status).toBe(200)
    expect((await app.request('/nope')).status).toBe(404)
    expect(exporter.getFinishedSpans().map((span) => span.name)).toEqual(['GET /*'])
  })

  it('a Redis span names its command, and a script by its SHA, never keys or values', () => {
    expect(redisCommandText('EVALSHA', ['0123abcd', '2', 'hrs:buf:{x}:items', 'data'])).toBe(
      'EVALSHA 0123abcd',
    )
    expect(redisCommandText('GETEX', ['hrs:session:v2:secret-id', 'EX', '60'])).toBe('GETEX')
    expect(redisCommandText('HELLO', ['3', 'AUTH', 'default', 'redis-password'])).toBe('HELLO')
    expect(redisCommandText('AUTH', ['redis-password'])).toBe('AUTH')
  })
})

describe('tracing: work shared by every request is no request child', () => {
  it('the live reader, started by a first subscriber, reads outside that request’s trace', async () => {
    const { app } = await buildTestApp(inject('redisUrl'), TRACING_ON)
    const name = bufferName('traced-live')
    const stream = await openEvents(app, name, { inProcess: true })
    await stream.nextBlock()
    exporter.reset()

    const appended = await app.request(`/buffers/${name}/items`, {
      method: 'POST',
      headers: { ...tokenHeaders, 'Content-Type': 'application/json' },
      body: JSON.stringify({ data: 1 }),
    })
    expect(appended.status).toBe(201)
    // Delivered live: the reader's XREAD ran since the append.
    expect((await stream.nextBlock())?.data).toBe('1')
    await stream.close()

    const spans = exporter.getFinishedSpans()
    expect(spans.filter((span) => span.attributes['db.operation.name'] === 'XREAD')).toEqual([])
    expect(spans.filter((span) => span.kind === SpanKind.SERVER).map((span) => span.name)).toEqual([
      'POST /buffers/:name/items',
    ])
  })

  it('stream slot renewals, started by a first slot, run outside that request’s trace', async () => {
    const { redis, client } = await buildTestApp(inject('redisUrl'), TRACING_ON)
    const sessionId = `traced-${sha1(String(Math.random()))}`
    // Redis learns the scripts first, from other slots (whose timer stops with their last release), so
    // that each call below is one EVALSHA.
    const warmUp = new StreamSlots(redis, { maxPerSession: 2 })
    const warmUpSlot = await warmUp.acquire(`${sessionId}-warm-up`)
    await warmUp.renew()
    await warmUpSlot.release()

    const slots = new StreamSlots(redis, { maxPerSession: 2, renewEveryMs: 20 })
    const { trace } = await import('@opentelemetry/api')
    const slot = await trace.getTracer('test').startActiveSpan('a request', async (span) => {
      try {
        return await slots.acquire(sessionId)
      } finally {
        span.end()
      }
    })
    const [request] = exporter.getFinishedSpans().filter((span) => span.name === 'a request') as [
      ReadableSpan,
    ]
    const slotKey = keys.streamSlots(sessionId)
    const firstLease = (await client.zRangeWithScores(slotKey, 0, -1))[0]?.score as number
    // Renewed (the lease moved on) at least once since.
    await expect
      .poll(async () => (await client.zRangeWithScores(slotKey, 0, -1))[0]?.score, { timeout: 2000 })
      .toBeGreaterThan(firstLease)
    await slot.release()

    const inRequest = exporter
      .getFinishedSpans()
      .filter((span) => span.spanContext().traceId === request.spanContext().traceId && span !== request)
    // The acquire only: no renewal.
    expect(inRequest.map((span) => span.attributes['db.query.text'])).toEqual([
      `EVALSHA ${sha1(readLuaScript('stream-slot-acquire'))}`,
    ])
  })
})
