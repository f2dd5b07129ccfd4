import { once } from 'node:events'
import { IncomingMessage, ServerResponse } from 'node:http'
import { connect, createServer, type Socket } from 'node:net'
import { Hono } from 'hono'
import { afterAll, describe, expect, it } from 'vitest'
import { type EventStream, openEventStream } from '../../src/sse/event-stream.js'

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
