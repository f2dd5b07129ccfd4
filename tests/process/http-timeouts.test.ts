import { once } from 'node:events'
import { connect, type Socket } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { bufferName, tokenHeaders } from '../support/buffers.js'
import { rawTestEnv } from '../support/env.js'
import { ServiceProcess } from '../support/service-process.js'

/**
 * Slow and idle clients against the real entry point, over raw sockets, with short timeouts: each is
 * cut when its timeout says, and an event stream is not cut by any of them.
 */
const HEADERS_MS = 500
const REQUEST_MS = 1500
const KEEP_ALIVE_MS = 1000
/** Node closes an idle keep-alive connection this long after the timeout it advertises. */
const NODE_KEEP_ALIVE_BUFFER_MS = 1000
/** How late a cut may come: Node's check interval (here a quarter of the headers timeout) and a margin. */
const LATE_MS = 1000

let service: ServiceProcess
let base: string
let port: number
beforeAll(async () => {
  service = ServiceProcess.spawn(
    rawTestEnv(inject('redisUrl'), {
      PORT: '0',
      HOST: '127.0.0.1',
      HTTP_HEADERS_TIMEOUT_MS: String(HEADERS_MS),
      HTTP_REQUEST_TIMEOUT_MS: String(REQUEST_MS),
      HTTP_KEEP_ALIVE_TIMEOUT_MS: String(KEEP_ALIVE_MS),
    }),
  )
  base = await service.listening()
  port = Number(new URL(base).port)
})
afterAll(() => service.stop())

/** A raw connection: what it received, and when (ms after it connected) the service closed it. */
class RawClient {
  received = ''
  connectedAt = 0
  closedAfterMs: number | undefined
  private readonly closed: Promise<void>

  private constructor(readonly socket: Socket) {
    socket.setEncoding('latin1')
    socket.on('data', (text: string) => {
      this.received += text
    })
    socket.on('error', () => {})
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.closedAfterMs = performance.now() - this.connectedAt
        resolve()
      }),
    )
  }

  static async open(): Promise<RawClient> {
    const client = new RawClient(connect(port, '127.0.0.1'))
    await once(client.socket, 'connect')
    client.connectedAt = performance.now()
    return client
  }

  get open(): boolean {
    return this.closedAfterMs === undefined
  }

  /** Resolves once what was received matches `pattern`; rejects after `timeoutMs`. */
  async receive(pattern: RegExp, timeoutMs = 3000): Promise<void> {
    const deadline = performance.now() + timeoutMs
    while (!pattern.test(this.received)) {
      if (performance.now() > deadline)
        throw new Error(`no ${pattern} within ${timeoutMs} ms: ${this.received}`)
      await sleep(10)
    }
  }

  /** Waits for the service to close the connection, at most `timeoutMs`; tells whether it did. */
  async closedWithin(timeoutMs: number): Promise<boolean> {
    await Promise.race([this.closed, sleep(timeoutMs)])
    return !this.open
  }

  destroy(): void {
    this.socket.destroy()
  }
}

/** The JSON body of a raw HTTP/1.1 response. */
const bodyOf = (response: string): unknown => JSON.parse(response.slice(response.indexOf('\r\n\r\n') + 4))

describe('requests Node refuses before any route runs', () => {
  it.each([
    [
      'a head over 16 KiB',
      `GET /healthz HTTP/1.1\r\nHost: test\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
      431,
      'headers_too_large',
    ],
    ['a malformed request line', 'GET /healthz HTTP/9.9 junk\r\nHost: test\r\n\r\n', 400, 'bad_request'],
    [
      'chunk extensions over what Node accepts',
      `POST /sessions HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n2;x=${'a'.repeat(20_000)}\r\n{}\r\n0\r\n\r\n`,
      413,
      'payload_too_large',
    ],
    [
      'a body both chunked and sized',
      'POST /sessions HTTP/1.1\r\nHost: test\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
      400,
      'bad_request',
    ],
  ])("answers %s with the API's JSON error body, then closes", async (_, request, status, code) => {
    const client = await RawClient.open()
    client.socket.write(request)
    expect(await client.closedWithin(3000)).toBe(true)
    expect(client.received).toMatch(new RegExp(`^HTTP/1\\.1 ${status} `))
    expect(client.received).toMatch(/\r\ncontent-type: application\/json\r\n/i)
    expect(bodyOf(client.received)).toEqual({ error: { code, message: expect.any(String) } })
  })
})

describe('HTTP timeouts', () => {
  it('cuts a client dribbling its request head after HTTP_HEADERS_TIMEOUT_MS, with a 408', async () => {
    const client = await RawClient.open()
    client.socket.write('GET /healthz HTTP/1.1\r\nHost: test\r\nX-Slow: ')
    const dribbling = (async () => {
      while (client.open) {
        client.socket.write('a')
        await sleep(50)
      }
    })()
    expect(await client.closedWithin(HEADERS_MS + LATE_MS + 1000)).toBe(true)
    await dribbling
    expect(client.received).toMatch(/^HTTP\/1\.1 408 /)
    expect(bodyOf(client.received)).toEqual({
      error: { code: 'request_timeout', message: expect.any(String) },
    })
    expect(client.closedAfterMs).toBeGreaterThanOrEqual(HEADERS_MS - 20)
    expect(client.closedAfterMs).toBeLessThan(HEADERS_MS + LATE_MS)
  })

  it('cuts a body sent one byte a second after HTTP_REQUEST_TIMEOUT_MS, with a 408', async () => {
    const client = await RawClient.open()
    client.socket.write(
      `POST /buffers/${bufferName('slow')}/items HTTP/1.1\r\nHost: test\r\n` +
        `Authorization: ${tokenHeaders.Authorization}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n`,
    )
    const sending = (async () => {
      while (client.open) {
        client.socket.write('[')
        await sleep(1000)
      }
    })()
    expect(await client.closedWithin(REQUEST_MS + LATE_MS + 1000)).toBe(true)
    await sending
    expect(client.received).toMatch(/^HTTP\/1\.1 408 /)
    expect(client.closedAfterMs).toBeGreaterThanOrEqual(REQUEST_MS - 20)
    expect(client.closedAfterMs).toBeLessThan(REQUEST_MS + LATE_MS)
  })

  it('closes an idle keep-alive connection after HTTP_KEEP_ALIVE_TIMEOUT_MS (plus Node’s second)', async () => {
    const client = await RawClient.open()
    client.socket.write('GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n')
    await client.receive(/\r\n\r\n\{[^}]*\}/)
    const answeredAt = performance.now()
    expect(client.received).toMatch(/\r\nkeep-alive: timeout=1\r\n/i)
    expect(await client.closedWithin(KEEP_ALIVE_MS + NODE_KEEP_ALIVE_BUFFER_MS + 1000)).toBe(true)
    const idleMs = performance.now() - answeredAt
    expect(idleMs).toBeGreaterThanOrEqual(KEEP_ALIVE_MS)
    expect(idleMs).toBeLessThan(KEEP_ALIVE_MS + NODE_KEEP_ALIVE_BUFFER_MS + LATE_MS)
  })

  it('never cuts an event stream: it outlives every timeout, on a reused connection', async () => {
    const name = bufferName('outlives')
    const client = await RawClient.open()
    client.socket.write('GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n')
    await client.receive(/\r\n\r\n\{[^}]*\}/)
    client.socket.write(
      `GET /buffers/${name}/events HTTP/1.1\r\nHost: test\r\nAuthorization: ${tokenHeaders.Authorization}\r\n` +
        'Accept: text/event-stream\r\n\r\n',
    )
    await client.receive(
      /HTTP\/1\.1 200 OK\r\n[\s\S]*content-type: text\/event-stream[\s\S]*\r\n\r\nretry: /i,
    )
    await sleep(Math.max(REQUEST_MS, HEADERS_MS, KEEP_ALIVE_MS + NODE_KEEP_ALIVE_BUFFER_MS) + 800)
    expect(client.open).toBe(true)
    const appended = await fetch(`${base}/buffers/${name}/items`, {
      method: 'POST',
      headers: { ...tokenHeaders, 'Content-Type': 'application/json' },
      body: JSON.stringify({ data: 'still here' }),
    })
    expect(appended.status).toBe(201)
    await client.receive(/data: "still here"\n\n/)
    client.destroy()
  })
})
