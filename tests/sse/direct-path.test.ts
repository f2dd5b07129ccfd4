import { once } from 'node:events'
import { type IncomingHttpHeaders, request } from 'node:http'
import { describe, expect, inject, it } from 'vitest'
import { buildTestApp } from '../support/app.js'
import {
  appendNumbers,
  bufferName,
  openEvents,
  range,
  servedUrl,
  subscriberCount,
  tokenHeaders,
} from '../support/buffers.js'

const redisUrl = inject('redisUrl')

/** ~60 KiB per item: enough of them overflow the loopback socket buffers (megabytes) and then the queue. */
const PAD = 'x'.repeat(60_000)
const ITEMS = 160

/** A subscriber over real HTTP that reads nothing until `drain()`: a client that stopped reading. */
function stalledSubscriber(url: string): { drain(): Promise<string> } {
  const req = request(url, { headers: tokenHeaders, agent: false })
  const body = new Promise<string>((resolve) => {
    req.on('response', (res) => {
      res.pause()
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => {
        text += chunk
      })
      res.on('close', () => resolve(text))
      res.on('error', () => resolve(text))
      drainNow = () => res.resume()
    })
  })
  req.on('error', () => {})
  req.end()
  let drainNow = () => {}
  return {
    drain: () => {
      drainNow()
      return body
    },
  }
}

/** The number (or `n`) of every complete event in an SSE text, with the id of the last one. */
function itemsIn(text: string): { numbers: number[]; lastId: string | undefined } {
  const numbers: number[] = []
  let lastId: string | undefined
  for (const block of text.split('\n\n').slice(0, -1)) {
    const id = /^id: (.+)$/m.exec(block)?.[1]
    const data = /^data: (.+)$/m.exec(block)?.[1]
    // As EventSource: every id: counts for Last-Event-ID, the opening block's included.
    if (id !== undefined) lastId = id
    if (id === undefined || data === undefined) continue
    const value = JSON.parse(data) as number | { n: number }
    numbers.push(typeof value === 'number' ? value : value.n)
  }
  return { numbers, lastId }
}

describe('SSE on the Node response (the production path)', async () => {
  // The default queue bound (1 MiB) holds a whole batch of 10 items.
  const { app } = await buildTestApp(redisUrl, { BODY_LIMIT_BYTES: String(4 * 1024 * 1024) })
  const subscribers = (name: string, of = app) => subscriberCount(of, name)

  it('disconnects a client whose socket stopped taking writes once its queue overflows; it resumes exactly', async () => {
    const name = bufferName()
    await appendNumbers(app, name, [0])
    const base = await servedUrl(app)
    const slow = stalledSubscriber(`${base}/buffers/${name}/events`)
    const fast = await openEvents(app, name)
    await expect.poll(() => subscribers(name)).toBe(2)

    const fastReceived: number[] = []
    for (let batch = 0; batch < ITEMS / 10; batch++) {
      const items = range(batch * 10 + 1, batch * 10 + 10).map((n) => ({ data: { n, pad: PAD } }))
      const res = await app.request(`/buffers/${name}/items`, {
        method: 'POST',
        headers: { ...tokenHeaders, 'Content-Type': 'application/json' },
        body: JSON.stringify({ items }),
      })
      expect(res.status).toBe(201)
      for (const event of await fast.events(10)) {
        fastReceived.push((JSON.parse(event.data as string) as { n: number }).n)
      }
    }
    // The reader never stalled on the slow one: the fast one got everything, and the slow one is gone.
    expect(fastReceived).toEqual(range(1, ITEMS))
    await expect.poll(() => subscribers(name)).toBe(1)

    const { numbers, lastId } = itemsIn(await slow.drain())
    expect(numbers.length).toBeLessThan(ITEMS)
    expect(lastId, 'the opening block gave it an id, even with no item').toBeDefined()
    const resumed = await openEvents(app, name, { headers: { 'Last-Event-ID': lastId as string } })
    const rest = (await resumed.events(ITEMS - numbers.length, 10_000)).map(
      (event) => (JSON.parse(event.data as string) as { n: number }).n,
    )
    expect([...numbers, ...rest]).toEqual(range(1, ITEMS))
    await Promise.all([fast.close(), resumed.close()])
  })

  it('sends a close-delimited body (no chunked framing) that starts with retry:, and ends it on close', async () => {
    const { app: closing } = await buildTestApp(redisUrl, { SSE_RETRY_MS: '1500' })
    const name = bufferName()
    await appendNumbers(closing, name, [1])
    const base = await servedUrl(closing)
    const { headers, body } = await new Promise<{ headers: IncomingHttpHeaders; body: Promise<string> }>(
      (resolve, reject) => {
        const req = request(`${base}/buffers/${name}/events?from=earliest`, { headers: tokenHeaders })
        req.on('error', reject)
        req.on('response', (res) => {
          res.setEncoding('utf8')
          let text = ''
          res.on('data', (chunk: string) => {
            text += chunk
          })
          resolve({ headers: res.headers, body: once(res, 'end').then(() => text) })
        })
        req.end()
      },
    )
    expect(headers['transfer-encoding']).toBeUndefined()
    expect(headers['content-length']).toBeUndefined()
    expect(headers.connection).toBe('close')
    expect(headers['content-type']).toBe('text/event-stream')
    await expect.poll(() => subscribers(name, closing)).toBe(1)
    await closing.lifecycle.close()
    const text = await body
    expect(text.startsWith('retry: 1500\nid: 0-0\n\n')).toBe(true)
    expect(itemsIn(text).numbers).toEqual([1])
  })

  it('forgets a subscriber whose connection closed', async () => {
    const name = bufferName()
    await appendNumbers(app, name, [1])
    const stream = await openEvents(app, name)
    await expect.poll(() => subscribers(name)).toBe(1)
    await stream.close()
    await expect.poll(() => subscribers(name)).toBe(0)
  })
})
