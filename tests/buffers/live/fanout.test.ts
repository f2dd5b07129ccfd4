import { afterAll, describe, expect, it } from 'vitest'
import type { ServiceApp } from '../../../src/app.js'
import { buildTestApp } from '../../support/app.js'
import {
  appendNumbers,
  bufferName,
  datas,
  numbersOf,
  openEvents,
  openSetEvents,
  range,
  setItems,
  subscriberCount,
  tokenHeaders,
} from '../../support/buffers.js'
import { TestRedisServer } from '../../support/redis-server.js'
import type { SseBlock, SseStream } from '../../support/sse-client.js'

/**
 * Items of ~60 KiB each, ~9.4 MiB in all: more than the loopback sockets and fetch take from a client that
 * reads nothing (about 4 MiB here), so the rest waits in the server's outbox.
 */
const BACKLOG_ITEMS = 160
const PAD = 'x'.repeat(60_000)

/** Appends items `{data: {n, pad}}` of ~60 KiB each. */
async function appendPadded(app: ServiceApp, name: string, numbers: number[]): Promise<void> {
  const res = await app.request(`/buffers/${name}/items`, {
    method: 'POST',
    headers: { ...tokenHeaders, 'Content-Type': 'application/json' },
    body: JSON.stringify({ items: numbers.map((n) => ({ data: { n, pad: PAD } })) }),
  })
  if (res.status !== 201) throw new Error(`append: ${res.status} ${await res.text()}`)
}

const paddedNumbers = (events: SseBlock[]) =>
  events.map((event) => (JSON.parse(event.data as string) as { n: number }).n)

/** Every event until the stream ends. */
async function remainingEvents(stream: SseStream, timeoutMs = 10_000): Promise<SseBlock[]> {
  const events: SseBlock[] = []
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const block = await stream.nextBlock(Math.max(1, deadline - Date.now()))
    if (block === null) return events
    if (block.data !== undefined) events.push(block)
  }
}

// A Redis of our own, so CLIENT LIST shows only this file's connections.
const server = await TestRedisServer.start()
afterAll(() => server.stop())
const redisUrl = await server.url()

describe('live fan-out', async () => {
  const { app, client } = await buildTestApp(redisUrl, { SSE_QUEUE_MAX_EVENTS: '20' })
  const connections = async () => (await client.clientList()).length

  it('uses the same number of Redis connections for 1 subscriber as for 200, and delivers to all', async () => {
    const name = bufferName()
    const baseline = await connections()
    const one = await openEvents(app, name)
    await appendNumbers(app, name, [0])
    await one.events(1)
    const withOne = await connections()
    // The command connection plus the one live reader.
    expect(withOne).toBe(baseline + 1)

    // 200 subscribers over 20 buffers, so the reader multiplexes many streams too.
    const names = range(1, 20).map(() => bufferName('fan'))
    const many: SseStream[] = []
    for (let i = 0; i < 199; i++) many.push(await openEvents(app, names[i % 20] as string))
    many.push(one)
    expect(await connections()).toBe(withOne)

    await Promise.all(names.map((n) => appendNumbers(app, n, [1, 2, 3])))
    await appendNumbers(app, name, [1, 2, 3])
    for (const stream of many.slice(0, 199)) expect(datas(await stream.events(3))).toEqual([1, 2, 3])
    expect(datas(await one.events(3))).toEqual([1, 2, 3])
    expect(await connections()).toBe(withOne)
    await Promise.all(many.map((stream) => stream.close()))
  })

  it('keeps that number with streams of 32 buffers each: 10 of them over 64 buffers', async () => {
    const baseline = await connections()
    const names = range(1, 64).map(() => bufferName('set'))
    const followedBy = (i: number) => names.slice((i % 2) * 32, (i % 2) * 32 + 32)
    const streams: SseStream[] = []
    for (let i = 0; i < 10; i++) {
      const stream = await openSetEvents(app, followedBy(i))
      await stream.nextBlock(1000)
      streams.push(stream)
    }
    // At most the live reader more (this file's first test may have opened it already), and nothing else.
    const withReader = await connections()
    expect(withReader).toBeLessThanOrEqual(baseline + 1)
    await Promise.all(names.map((name) => appendNumbers(app, name, [1])))
    for (const [i, stream] of streams.entries()) {
      const items = setItems(await stream.events(32))
      expect(new Set(items.map((item) => item.buffer))).toEqual(new Set(followedBy(i)))
    }
    expect(await connections()).toBe(withReader)
    await Promise.all(streams.map((stream) => stream.close()))
  })

  it('disconnects a stream of several buffers that stops reading; it resumes every buffer exactly', async () => {
    const [a, b] = [bufferName('a'), bufferName('b')]
    await appendNumbers(app, a, [0])
    const slow = await openSetEvents(app, [a, b], { inProcess: true })
    for (const n of range(1, 10)) {
      await appendNumbers(app, a, range(n * 10 - 9, n * 10))
      await appendNumbers(app, b, range(n * 10 - 9, n * 10))
    }
    const received: SseBlock[] = []
    for (let block = await slow.nextBlock(2000); block; block = await slow.nextBlock(2000)) {
      if (block.data !== undefined) received.push(block)
    }
    expect(received.length).toBeLessThan(200)
    const resumed = await openSetEvents(app, [a, b], {
      headers: { 'Last-Event-ID': slow.lastEventId },
      inProcess: true,
    })
    const items = [...setItems(received), ...setItems(await resumed.events(200 - received.length))]
    expect(numbersOf(items, a)).toEqual(range(1, 100))
    expect(numbersOf(items, b)).toEqual(range(1, 100))
    expect(await resumed.quietFor(200)).toBe(true)
    await resumed.close()
  })

  it.each([
    ['a buffer that had items', true],
    ['a new buffer', false],
  ])(
    'disconnects a client that stops reading, without stalling the others; it can resume (%s)',
    async (_, existing) => {
      const name = bufferName()
      if (existing) await appendNumbers(app, name, [0])
      // In process: over TCP the kernel's socket buffers would take all of this test's small items.
      const slow = await openEvents(app, name, { inProcess: true })
      const fast = await openEvents(app, name, { inProcess: true })
      // The fast one takes each batch before the next is appended; the slow one never reads a byte.
      const fastReceived: number[] = []
      for (const n of range(1, 10)) {
        await appendNumbers(app, name, range(n * 10 - 9, n * 10))
        fastReceived.push(...datas(await fast.events(10)))
      }
      expect(fastReceived).toEqual(range(1, 100))
      await expect.poll(() => subscriberCount(app, name)).toBe(1)

      // What the slow one did receive ends early; resuming from its last id gets the rest exactly once.
      const received: { id?: string; data?: string }[] = []
      for (;;) {
        const block = await slow.nextBlock(2000)
        if (block === null) break
        if (block.data !== undefined) received.push(block)
      }
      expect(received.length).toBeLessThan(100)
      // As EventSource would: the last id it saw, the opening block's if no item came.
      const resumed = await openEvents(app, name, {
        headers: { 'Last-Event-ID': slow.lastEventId },
        inProcess: true,
      })
      const rest = await resumed.events(100 - received.length)
      expect([...datas(received), ...datas(rest)]).toEqual(range(1, 100))
      await Promise.all([fast.close(), resumed.close()])
    },
  )

  it('a resuming client with a backlog larger than its queue bound is paced, not disconnected', async () => {
    const name = bufferName()
    const ids = await appendNumbers(app, name, range(1, 500))
    // In process, where an unread frame holds the stream back at once (see openEvents).
    const stream = await openEvents(app, name, {
      headers: { 'Last-Event-ID': ids[0] as string },
      inProcess: true,
    })
    expect(datas(await stream.events(499, 10_000))).toEqual(range(2, 500))
    await stream.close()
  })

  it('on lifecycle close, ends every stream cleanly after what was queued; a new one ends at once, to reconnect elsewhere', async () => {
    // Queues big enough for everything below: here a client that reads nothing for a while is not slow.
    const { app: closing } = await buildTestApp(redisUrl, {
      SSE_QUEUE_MAX_EVENTS: '100000',
      SSE_QUEUE_MAX_BYTES: String(256 * 1024 * 1024),
      BODY_LIMIT_BYTES: String(8 * 1024 * 1024),
    })
    const name = bufferName()
    const streams = [await openEvents(closing, name), await openEvents(closing, name)]
    const witness = await openEvents(closing, name)
    await appendNumbers(closing, name, [1, 2])
    for (const stream of [...streams, witness]) expect(datas(await stream.events(2))).toEqual([1, 2])

    // The streams stop reading while more arrives than the loopback sockets' buffers hold, so the rest
    // waits in their outboxes. The witness reads on: once it has every item, so have the others' outboxes
    // (the live reader hands each item to every subscriber of the buffer at once).
    const numbers = range(3, 2 + BACKLOG_ITEMS)
    for (let from = 0; from < numbers.length; from += 100) {
      await appendPadded(closing, name, numbers.slice(from, from + 100))
    }
    expect(paddedNumbers(await witness.events(numbers.length, 15_000))).toEqual(numbers)

    // Closing waits (up to its grace) for each client to take what is queued, then ends each response.
    const closed = closing.lifecycle.close()
    const rests = await Promise.all(streams.map((stream) => remainingEvents(stream)))
    await closed
    for (const [index, stream] of streams.entries()) {
      // Over HTTP the body is close-delimited, and fetch takes the connection's close as its end, even
      // after a reset: the end alone does not tell a clean end from a cut. A clean one has no read error,
      // ends on a block boundary, and brings every item queued before it; a cut loses what was queued.
      expect(stream.error).toBeUndefined()
      expect(stream.endedCleanly).toBe(true)
      expect(paddedNumbers(rests[index] as SseBlock[])).toEqual(numbers)
    }
    expect(await witness.nextBlock(2000)).toBeNull()
    expect(witness.endedCleanly).toBe(true)

    const late = await closing.request(`/buffers/${name}/events`, { headers: tokenHeaders })
    expect(late.status).toBe(200)
    expect(late.headers.get('connection')).toBe('close')
    expect(await late.text()).toBe('retry: 2000\n\n')
  })
})
