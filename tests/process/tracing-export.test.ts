import { randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, inject, it } from 'vitest'
import { EXIT_CODES } from '../../src/process/exit-codes.js'
import { rawTestEnv, TEST_API_TOKEN } from '../support/env.js'
import { SilentTcpServer } from '../support/net.js'
import { ServiceProcess } from '../support/service-process.js'

/**
 * Tracing on the real entry point (`node dist/main.js`): with OTEL_EXPORTER_OTLP_ENDPOINT set, a request's
 * spans reach an OTLP/HTTP receiver when the service stops; without it, nothing of OpenTelemetry is loaded
 * but the API prom-client always loads. Which modules a process loaded is what V8 compiled in it
 * (`tests/support/loaded-modules.mjs`), checked against the traced process, which must show them.
 */

interface OtlpPost {
  path: string
  contentType: string | undefined
  body: Buffer
}

/** An OTLP/HTTP collector that keeps what it is sent and answers every export with success. */
async function startOtlpReceiver(): Promise<{ url: string; posts: OtlpPost[]; server: Server }> {
  const posts: OtlpPost[] = []
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      posts.push({
        path: req.url ?? '',
        contentType: req.headers['content-type'],
        body: Buffer.concat(chunks),
      })
      // An empty ExportTraceServiceResponse: everything accepted.
      res.writeHead(200, { 'Content-Type': 'application/x-protobuf' }).end()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, posts, server }
}

const cleanups: (() => Promise<unknown>)[] = []
afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((cleanup) => cleanup()))
})

const LOADED_MODULES_PRELOAD = fileURLToPath(new URL('../support/loaded-modules.mjs', import.meta.url))

/** The service, stopped after the test; with `listModules`, `loadedModules()` reads what it loaded once it exited. */
async function startService(overrides: Record<string, string>, { listModules = false } = {}) {
  const listDir = mkdtempSync(join(tmpdir(), 'loaded-modules-'))
  cleanups.push(async () => rmSync(listDir, { recursive: true, force: true }))
  const listFile = join(listDir, 'modules.txt')
  const listing = { NODE_OPTIONS: `--import ${LOADED_MODULES_PRELOAD}`, LOADED_MODULES_FILE: listFile }
  const service = ServiceProcess.spawn(
    rawTestEnv(inject('redisUrl'), {
      PORT: '0',
      HOST: '127.0.0.1',
      ...overrides,
      ...(listModules ? listing : {}),
    }),
  )
  cleanups.push(() => service.stop())
  const loadedModules = () => readFileSync(listFile, 'utf8')
  return { service, base: await service.listening(), loadedModules }
}

/** One append with the admin token; resolves with the item data it sent. */
async function appendOne(base: string): Promise<string> {
  const itemData = `item-data-${randomBytes(8).toString('hex')}`
  const res = await fetch(`${base}/buffers/traced-${randomBytes(4).toString('hex')}/items`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${TEST_API_TOKEN}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ data: itemData }),
  })
  expect(res.status).toBe(201)
  return itemData
}

/** The OpenTelemetry packages (and our tracing module) among the modules a process loaded. */
const openTelemetryLoaded = (modules: string) => [
  ...new Set(
    [
      ...modules.matchAll(/node_modules\/(@opentelemetry\/[\w-]+|@hono\/otel)\/|dist\/process\/tracing\.js/g),
    ].map(([match]) => match),
  ),
]

describe('tracing in the real process', () => {
  it('OTEL_EXPORTER_OTLP_ENDPOINT set: the spans of a request are exported over OTLP/HTTP by the time it exits', async () => {
    const receiver = await startOtlpReceiver()
    cleanups.push(() => new Promise((resolve) => receiver.server.close(resolve)))
    const serviceName = `traced-${randomBytes(4).toString('hex')}`
    const { service, base, loadedModules } = await startService(
      { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_SERVICE_NAME: serviceName },
      { listModules: true },
    )
    const itemData = await appendOne(base)

    // Batched every 5 s by default: what is still queued goes out on shutdown.
    service.kill('SIGTERM')
    const exit = await service.exited
    expect(exit.code).toBe(EXIT_CODES.ok)
    expect(service.stdout).toMatch(/"msg":"shutdown: tracing ended"/)

    const traces = receiver.posts.filter((post) => post.path === '/v1/traces')
    expect(traces.length).toBeGreaterThanOrEqual(1)
    expect(traces.every((post) => post.contentType === 'application/x-protobuf')).toBe(true)
    // Protobuf keeps strings as UTF-8 bytes: the span names, the resource's service name.
    const exported = Buffer.concat(traces.map((post) => post.body)).toString('latin1')
    expect(exported).toContain('POST /buffers/:name/items')
    expect(exported).toContain('redis-EVALSHA')
    expect(exported).toContain(serviceName)
    expect(exported).not.toContain(TEST_API_TOKEN)
    expect(exported).not.toContain(itemData)

    expect(openTelemetryLoaded(loadedModules())).toEqual(
      expect.arrayContaining([
        'node_modules/@opentelemetry/sdk-trace-node/',
        'node_modules/@opentelemetry/instrumentation-redis/',
        'node_modules/@hono/otel/',
        'dist/process/tracing.js',
      ]),
    )
  })

  it('a collector that never answers costs the last spans, not the shutdown budget or the exit code', async () => {
    const collector = await SilentTcpServer.start()
    cleanups.push(() => collector.close())
    const { service, base } = await startService({
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${collector.port}`,
      SHUTDOWN_TIMEOUT_MS: '1500',
    })
    await appendOne(base)
    service.kill('SIGTERM')
    // 0: within SHUTDOWN_TIMEOUT_MS (past it, the process exits 1), where the exporter alone waits 10 s.
    expect((await service.exited).code).toBe(EXIT_CODES.ok)
    expect(service.stdout).toMatch(/"msg":"shutdown: tracing did not end in time/)
    expect(collector.connections).toBeGreaterThanOrEqual(1)
  })

  it('OTEL_EXPORTER_OTLP_ENDPOINT unset: no OpenTelemetry SDK, instrumentation or middleware is loaded', async () => {
    const { service, base, loadedModules } = await startService({}, { listModules: true })
    await appendOne(base)
    service.kill('SIGTERM')
    expect((await service.exited).code).toBe(EXIT_CODES.ok)
    // The list is there (the service's own modules and node-redis are in it), and names none of them.
    expect(loadedModules()).toMatch(/dist\/app\.js/)
    expect(loadedModules()).toMatch(/@redis\/client\/dist\/lib\/client\/index\.js/)
    // But the API, which prom-client loads for its exemplars whatever the configuration: with no SDK
    // registered, each of its calls is a no-op.
    expect(openTelemetryLoaded(loadedModules())).toEqual(['node_modules/@opentelemetry/api/'])
  })
})
