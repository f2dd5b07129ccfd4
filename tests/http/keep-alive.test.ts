import { once } from 'node:events'
import { Agent, type ClientRequest, type IncomingHttpHeaders, request } from 'node:http'
import { connect, type Socket } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { buildTestApp } from '../support/app.js'
import { bufferName, servedUrl, tokenHeaders } from '../support/buffers.js'

/**
 * Uploads the service refuses before reading them (401, 413 by Content-Length, 415, 404), over real
 * HTTP: the refusal must not cost the next request its connection, and nobody may see a reset. A refused
 * body the service may read (within BODY_LIMIT_BYTES) is drained and the connection kept; a longer one
 * is refused with `Connection: close` and a clean (lingering) close.
 */
const redisUrl = inject('redisUrl')
const LIMIT = 600_000
/** "600 KB" either side of the limit: drained when within it, refused by its length beyond it. */
const WITHIN = Buffer.alloc(LIMIT, 'a')
const BEYOND = Buffer.alloc(614_400, 'a')

interface Answer {
  status: number
  headers: IncomingHttpHeaders
  socket: Socket
}

let base: string
let port: number
beforeAll(async () => {
  const { app } = await buildTestApp(redisUrl, { BODY_LIMIT_BYTES: String(LIMIT) })
  base = await servedUrl(app)
  port = Number(new URL(base).port)
})

/**
 * One request through `agent`; rejects on any socket error, resolves once the response has ended and
 * the request has been sent (`body` writes it, or is all of it).
 */
function send(
  agent: Agent,
  path: string,
  {
    method = 'GET',
    headers = {},
    body,
  }: {
    method?: string
    headers?: Record<string, string>
    body?: Buffer | ((req: ClientRequest) => Promise<void>)
  },
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}${path}`, { agent, method, headers })
    req.on('error', reject)
    const sent = new Promise((done) => req.on('finish', done))
    req.on('response', (res) => {
      res.on('error', reject)
      res.resume()
      res.on('end', () => {
        void sent.then(() =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, socket: req.socket as Socket }),
        )
      })
    })
    if (typeof body === 'function') body(req).then(() => req.end(), reject)
    else req.end(body)
  })
}

const name = bufferName('keepalive')
const json = { 'Content-Type': 'application/json' }
const REFUSALS = [
  { status: 401, path: `/buffers/${name}/items`, headers: json, body: WITHIN },
  { status: 413, path: `/buffers/${name}/items`, headers: { ...tokenHeaders, ...json }, body: BEYOND },
  {
    status: 415,
    path: `/buffers/${name}/items`,
    headers: { ...tokenHeaders, 'Content-Type': 'text/plain' },
    body: WITHIN,
  },
  { status: 404, path: '/no-such-path', headers: { ...tokenHeaders, ...json }, body: WITHIN },
] as const
const refusal = (i: number) => REFUSALS[i % REFUSALS.length] as (typeof REFUSALS)[number]

describe('an upload refused before its body is read', () => {
  const agents: Agent[] = []
  const keepAliveAgent = () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 })
    agents.push(agent)
    return agent
  }
  afterAll(() => {
    for (const agent of agents) agent.destroy()
  })

  it('costs a keep-alive client nothing: 30 refusals, each followed by a GET on the same agent', async () => {
    const agent = keepAliveAgent()
    const outcomes: string[] = []
    for (let i = 0; i < 30; i++) {
      const { path, headers, body } = refusal(i)
      const refused = await send(agent, path, { method: 'POST', headers, body })
      const next = await send(agent, '/healthz', {})
      const closing = refused.headers.connection === 'close'
      const connection = closing ? 'closed' : next.socket === refused.socket ? 'kept' : 'lost'
      outcomes.push(`${refused.status} ${connection} ${next.status}`)
    }
    // Within the limit: drained, the next request rides the same connection. Beyond it: said and closed.
    expect(outcomes).toEqual(
      Array.from({ length: 30 }, (_, i) => {
        const { status } = refusal(i)
        return `${status} ${status === 413 ? 'closed' : 'kept'} 200`
      }),
    )
  })

  it('costs fetch (undici) nothing either', async () => {
    const failures: string[] = []
    for (let i = 0; i < 30; i++) {
      const { status, path, headers, body } = refusal(i)
      try {
        const refused = await fetch(`${base}${path}`, { method: 'POST', headers, body })
        expect(refused.status).toBe(status)
        await refused.arrayBuffer()
        const next = await fetch(`${base}/healthz`)
        expect(next.status).toBe(200)
        await next.arrayBuffer()
      } catch (error) {
        const cause = (error as { cause?: { code?: string; message?: string } }).cause
        failures.push(`${i} ${status}: ${String(error)} ${cause?.code ?? ''} ${cause?.message ?? ''}`)
      }
    }
    expect(failures).toEqual([])
  })

  it('drains a refused body that arrives slowly (over a second), and keeps the connection', async () => {
    const agent = keepAliveAgent()
    const chunk = Buffer.alloc(LIMIT / 40, 'a')
    const startedAt = performance.now()
    const refused = await send(agent, `/buffers/${name}/items`, {
      method: 'POST',
      headers: { ...json, 'Content-Length': String(LIMIT) },
      body: async (req) => {
        for (let i = 0; i < 40; i++) {
          req.write(chunk)
          await sleep(30)
        }
      },
    })
    expect(performance.now() - startedAt).toBeGreaterThan(1000)
    expect(refused.status).toBe(401)
    expect(refused.headers.connection).not.toBe('close')
    const next = await send(agent, '/healthz', {})
    expect(next.status).toBe(200)
    expect(next.socket === refused.socket, 'the same connection').toBe(true)
  })

  it('closes without a reset after refusing a long body the client is still sending', async () => {
    // 32 MB declared; the client streams it until it has read the whole refusal, then stops and closes.
    const socket = connect(port, '127.0.0.1')
    const errors: string[] = []
    socket.on('error', (error: NodeJS.ErrnoException) => errors.push(error.code ?? error.message))
    let received = ''
    let answered = false
    let serverEnded = false
    socket.setEncoding('latin1')
    socket.on('data', (text: string) => {
      received += text
      const [head = '', body = ''] = received.split('\r\n\r\n')
      const length = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? Number.NaN)
      answered ||= body.length >= length
    })
    socket.on('end', () => {
      serverEnded = true
    })
    const closed = new Promise((resolve) => socket.once('close', resolve))
    await once(socket, 'connect')
    socket.write(
      `POST /buffers/${name}/items HTTP/1.1\r\nHost: test\r\nAuthorization: ${tokenHeaders.Authorization}\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${32 * 1024 * 1024}\r\n\r\n`,
    )
    const chunk = Buffer.alloc(64 * 1024, 'a')
    let sent = 0
    while (!answered && !socket.destroyed && sent < 32 * 1024 * 1024) {
      sent += chunk.length
      if (!socket.write(chunk))
        await new Promise((drained) => socket.once('drain', drained).once('close', drained))
    }
    socket.end()
    await closed
    expect(received).toMatch(/^HTTP\/1\.1 413 /)
    expect(received).toMatch(/\r\nconnection: close\r\n/i)
    expect(received).toContain('payload_too_large')
    expect(errors, `sent ${sent} bytes`).toEqual([])
    expect(serverEnded).toBe(true)
  })
})
