import { once } from 'node:events'
import { request } from 'node:http'
import { connect, type Socket } from 'node:net'
import { createClient } from 'redis'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { EXIT_CODES } from '../../src/process/exit-codes.js'
import { rawTestEnv } from '../support/env.js'
import { TestRedisServer } from '../support/redis-server.js'
import { ServiceProcess } from '../support/service-process.js'

/**
 * Graceful shutdown on the real entry point. Slow requests are made real by DEBUG SLEEP, which blocks
 * the dedicated Redis: every request that needs Redis is then genuinely in flight.
 */

let redis: TestRedisServer
let redisUrl: string
const running: ServiceProcess[] = []

beforeAll(async () => {
  redis = await TestRedisServer.start(['--enable-debug-command', 'yes'])
  redisUrl = await redis.url()
})
afterAll(() => redis.stop())
afterEach(async () => {
  await Promise.all(running.splice(0).map((service) => service.stop()))
})

async function startService(overrides: Record<string, string> = {}) {
  const service = ServiceProcess.spawn(
    rawTestEnv(redisUrl, { PORT: '0', HOST: '127.0.0.1', REDIS_COMMAND_TIMEOUT_MS: '5000', ...overrides }),
  )
  running.push(service)
  return { service, base: await service.listening() }
}

/** Blocks the Redis server for `seconds`, from a connection of its own. */
async function blockRedis(seconds: number): Promise<() => Promise<void>> {
  const client = createClient({ url: redisUrl })
  client.on('error', () => {})
  await client.connect()
  const sleeping = client.sendCommand(['DEBUG', 'SLEEP', String(seconds)])
  return async () => {
    await sleeping
    client.destroy()
  }
}

const createSession = (base: string) => fetch(`${base}/sessions`, { method: 'POST' })

/** A POST on its own connection, telling when it has been sent and when (and what) it was answered. */
function postWhileWatching(url: string) {
  const req = request(url, { method: 'POST', agent: false })
  const sent = new Promise<void>((resolve) => req.on('finish', resolve))
  const answered = new Promise<{ status: number; body: string; at: number }>((resolve, reject) => {
    req.on('error', reject)
    req.on('response', (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => {
        body += chunk
      })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, at: performance.now() }))
    })
  })
  req.end()
  return { sent, answered }
}

describe('SIGTERM', () => {
  it('lets in-flight requests finish with their full answer, then exits 0', async () => {
    const { service, base } = await startService({ SHUTDOWN_DELAY_MS: '0' })
    const unblocked = await blockRedis(2)
    const inFlight = Array.from({ length: 5 }, () => postWhileWatching(`${base}/sessions`))
    // Each request has left the client, then the server has had time to read it and ask Redis,
    // which is asleep: all five are waiting on Redis when the signal arrives.
    await Promise.all(inFlight.map((request) => request.sent))
    await new Promise((resolve) => setTimeout(resolve, 300))
    const signalledAt = performance.now()
    service.kill('SIGTERM')
    for (const answer of await Promise.all(inFlight.map((request) => request.answered))) {
      expect(answer.status).toBe(201)
      expect(JSON.parse(answer.body)).toMatchObject({ id: expect.any(String), data: {} })
      expect(answer.at, 'answered after the signal: it was in flight').toBeGreaterThan(signalledAt)
    }
    expect((await service.exited).code).toBe(EXIT_CODES.ok)
    await unblocked()
  })

  it('fails readiness at once but keeps serving for SHUTDOWN_DELAY_MS', async () => {
    const { service, base } = await startService({ SHUTDOWN_DELAY_MS: '1000' })
    service.kill('SIGTERM')
    await new Promise((resolve) => setTimeout(resolve, 100))
    const ready = await fetch(`${base}/readyz`)
    expect(ready.status).toBe(503)
    expect(await ready.json()).toMatchObject({ status: 'fail', output: 'shutting down' })
    const live = await fetch(`${base}/healthz`)
    expect(live.status).toBe(200)
    // The shipped server adds the security headers to every head it writes.
    expect(live.headers.get('x-content-type-options')).toBe('nosniff')
    expect(live.headers.get('referrer-policy')).toBe('no-referrer')
    const session = await createSession(base)
    expect(session.status).toBe(201)
    expect(session.headers.get('cache-control')).toBe('no-store')
    const exit = await service.exited
    expect(exit.code).toBe(EXIT_CODES.ok)
    expect(service.stdout).toMatch(/"msg":"shutdown: complete"/)
    // The access log, flushed by the exit: the session request, not the probes.
    expect(service.stdout).toMatch(/"method":"POST","route":"\/sessions","status":201.*"msg":"request"/)
    expect(service.stdout).not.toMatch(/"route":"\/(healthz|readyz)"/)
  })

  it('does not wait for connections with no request in flight: silent, half a head, idle', async () => {
    const delayMs = 300
    // Before the fix such connections held the server open until the headers timeout (here: exit 1).
    const { service, base } = await startService({
      SHUTDOWN_DELAY_MS: String(delayMs),
      SHUTDOWN_TIMEOUT_MS: '5000',
      HTTP_HEADERS_TIMEOUT_MS: '20000',
      HTTP_REQUEST_TIMEOUT_MS: '30000',
    })
    const open = async () => {
      const socket = connect(Number(new URL(base).port), '127.0.0.1')
      socket.on('error', () => {})
      await once(socket, 'connect')
      return socket
    }
    const silent = await open()
    const halfHead = await open()
    halfHead.write('POST /sessions HTTP/1.1\r\nHost: test\r\nContent-Ty')
    // A keep-alive connection whose request was answered, then half of its next head.
    const reused = await open()
    reused.write('GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n')
    await once(reused, 'data')
    reused.write('GET /healthz HTTP/1.1\r\nHo')
    const closed = (socket: Socket) => new Promise((resolve) => socket.once('close', resolve))
    const allClosed = Promise.all([silent, halfHead, reused].map(closed))
    await new Promise((resolve) => setTimeout(resolve, 100))
    const signalledAt = performance.now()
    service.kill('SIGTERM')
    const exit = await service.exited
    const elapsedMs = performance.now() - signalledAt
    expect(exit.code).toBe(EXIT_CODES.ok)
    expect(elapsedMs).toBeLessThan(delayMs + 1000)
    await allClosed
  })

  it('exits 1 when SHUTDOWN_TIMEOUT_MS passes before requests finish', async () => {
    const { service, base } = await startService({ SHUTDOWN_DELAY_MS: '0', SHUTDOWN_TIMEOUT_MS: '300' })
    const unblocked = await blockRedis(2)
    const stuck = createSession(base).catch(() => 'connection closed')
    await new Promise((resolve) => setTimeout(resolve, 200))
    service.kill('SIGTERM')
    const exit = await service.exited
    expect(exit.code).toBe(EXIT_CODES.failure)
    expect(service.stdout).toMatch(/shutdown timed out/)
    await stuck
    await unblocked()
  })

  it('a second signal forces an immediate exit with code 1', async () => {
    const { service } = await startService({ SHUTDOWN_DELAY_MS: '10000' })
    service.kill('SIGTERM')
    await new Promise((resolve) => setTimeout(resolve, 200))
    const signalledAt = performance.now()
    service.kill('SIGINT')
    const exit = await service.exited
    expect(exit.code).toBe(EXIT_CODES.failure)
    expect(performance.now() - signalledAt).toBeLessThan(2000)
  })
})
