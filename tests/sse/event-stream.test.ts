import { once } from 'node:events'
import { IncomingMessage, type Server, ServerResponse } from 'node:http'
import { type AddressInfo, connect, createServer, type Socket } from 'node:net'
import { serve } from '@hono/node-server'
import { Hono } from 'hono'
import { afterAll, describe, expect, it } from 'vitest'
import { type EventStream, openEventStream } from '../../src/sse/event-stream.js'
import { encodeFrame, HEARTBEAT_FRAME } from '../../src/sse/frames.js'
import { Heartbeats } from '../../src/sse/heartbeats.js'
import { Outbox, type OutboxEnd } from '../../src/sse/outbox.js'

describe('openEventStream on a Node response', () => {
  const server = createServer()
  afterAll(() => new Promise((resolve) => server.close(resolve)))

  /** Both ends of a loopback TCP connection. */
  async function socketPair(): Promise<{ serverSide: Socket; clientSide: Socket }> {
    if (!server.listening) await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const accepted = once(server, 'connection') as Promise<[Socket]>
    const clientSide = connect((server.address() as { port: number }).port, '127.0.0.1')
    const [serverSide] = await accepted
    return { serverSide, clientSide }
  }

  it('writes through the response while it waits for its socket (a pipelined request), head first', async () => {
    const { serverSide, clientSide } = await socketPair()
    const req = new IncomingMessage(serverSide)
    req.method = 'GET'
    req.httpVersionMajor = 1
    req.httpVersionMinor = 1
    const res = new ServerResponse(req)
    expect(res.socket).toBeNull()

    let opened: EventStream | undefined
    const app = new Hono().get('/', (c) => {
      opened = openEventStream(c)
      return opened.response
    })
    await app.request('/', undefined, { outgoing: res })
    expect(opened?.sink).toBe(res)
    opened?.sink.write('retry: 1500\n\n')

    let received = ''
    clientSide.setEncoding('latin1')
    clientSide.on('data', (chunk: string) => {
      received += chunk
    })
    res.assignSocket(serverSide)
    await expect.poll(() => received.endsWith('\r\n\r\nretry: 1500\n\n')).toBe(true)
    expect(received).toMatch(/^HTTP\/1\.1 200 OK\r\n/)
    expect(received.toLowerCase()).toContain('\r\nconnection: close\r\n')
    expect(received.toLowerCase()).toContain('\r\ncontent-type: text/event-stream\r\n')
    expect(received.toLowerCase()).not.toContain('transfer-encoding')
    clientSide.destroy()
    serverSide.destroy()
  })
})

describe('openEventStream, Node response and web fallback', () => {
  const BIG = 'z'.repeat(200_000)
  const beforeResponse = [
    encodeFrame({ retry: 1500 }),
    encodeFrame({ id: '1-0', data: '{"n":1}' }),
    encodeFrame({ id: '2-0', event: 'note', data: 'two\nlines, ünïcödé ✓' }),
  ]
  const afterResponse = [
    HEARTBEAT_FRAME,
    encodeFrame({ id: '3-0', data: BIG }),
    encodeFrame({ data: 'last' }),
  ]
  const expected =
    'retry: 1500\n\n' +
    'id: 1-0\ndata: {"n":1}\n\n' +
    'id: 2-0\nevent: note\ndata: two\ndata: lines, ünïcödé ✓\n\n' +
    ': heartbeat\n\n' +
    `id: 3-0\ndata: ${BIG}\n\n` +
    'data: last\n\n'

  /** An app whose stream pushes frames through an Outbox, some after the response is returned, then ends. */
  function streamingApp() {
    const outcomes: OutboxEnd[] = []
    const app = new Hono().get('/events', (c) => {
      const stream = openEventStream(c)
      const outbox = new Outbox({
        sink: stream.sink,
        end: stream.end,
        maxEvents: 100,
        maxBytes: 1 << 20,
        heartbeats: new Heartbeats(60_000),
      })
      void outbox.ended.then((outcome) => outcomes.push(outcome))
      for (const frame of beforeResponse) expect(outbox.push(frame)).toBe(true)
      setImmediate(() => {
        for (const frame of afterResponse) expect(outbox.push(frame)).toBe(true)
        void outbox.end(5000)
      })
      return stream.response
    })
    return { app, outcomes }
  }

  /** GET /events over a raw TCP connection: the exact bytes on the wire, until the server closes it. */
  async function rawGet(port: number): Promise<{ head: string; body: Buffer }> {
    const socket = connect(port, '127.0.0.1')
    const chunks: Buffer[] = []
    socket.on('data', (chunk: Buffer) => chunks.push(chunk))
    socket.write('GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n')
    await once(socket, 'end')
    socket.destroy()
    const all = Buffer.concat(chunks)
    const split = all.indexOf('\r\n\r\n')
    return { head: all.subarray(0, split).toString('latin1'), body: all.subarray(split + 4) }
  }

  it('sends the same bytes on both paths: the frames pushed, in order, then a clean end', async () => {
    const node = streamingApp()
    const server = serve({ fetch: node.app.fetch, port: 0, hostname: '127.0.0.1' }) as Server
    try {
      if (!server.listening) await once(server, 'listening')
      const { head, body: nodeBody } = await rawGet((server.address() as AddressInfo).port)
      expect(head).toMatch(/^HTTP\/1\.1 200 OK\r\n/)
      expect(head.toLowerCase()).toContain('\r\ncontent-type: text/event-stream')
      expect(head.toLowerCase()).toContain('\r\nconnection: close')
      expect(head.toLowerCase()).not.toContain('transfer-encoding')
      expect(head.toLowerCase()).not.toContain('content-length')

      const web = streamingApp()
      const res = await web.app.request('/events')
      expect(res.status).toBe(200)
      expect(res.headers.get('content-type')).toBe('text/event-stream')
      const webBody = Buffer.from(await res.arrayBuffer())

      expect(nodeBody.equals(webBody)).toBe(true)
      expect(webBody.toString('utf8')).toBe(expected)
      expect(nodeBody.toString('utf8')).toBe(expected)
      await expect.poll(() => [...node.outcomes, ...web.outcomes]).toEqual(['ended', 'ended'])
    } finally {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    }
  })
})
