import { pino } from 'pino'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { type FeedListener, LiveHub, type LiveItem } from '../../../src/buffers/live/hub.js'
import type { Logger } from '../../../src/process/logger.js'
import { RedisUnavailableError } from '../../../src/redis/failures.js'
import { keys } from '../../../src/redis/keys.js'
import type {
  RawStreamEntry,
  StreamCursor,
  StreamReader,
  StreamReadReply,
} from '../../../src/redis/stream-reader.js'
import { captureLogs } from '../../support/logs.js'

const silent: Logger = pino({ level: 'silent' })
const A = keys.bufferItems('a')
const B = keys.bufferItems('b')

/** Ids of one millisecond: `1700000000000-0`, `-1`, ... */
const id = (n: number) => `1700000000000-${n}`

/** Stream entry n as buffer-append.lua writes it; its prev is entry n - 1. */
const entry = (n: number, prev = n === 0 ? '' : id(n - 1)): RawStreamEntry => [
  id(n),
  ['e', 'num', 'd', JSON.stringify({ n }), 't', '1700000000000', 'p', prev],
]
const entries = (...ns: number[]) => ns.map((n) => entry(n))

/** Item n's frame as a client reads it, written out by hand. */
const text = (n: number) => `id: ${id(n)}\nevent: num\ndata: {"n":${n}}\n\n`

const settle = () => new Promise<void>((resolve) => setImmediate(resolve))

interface Read {
  streams: StreamCursor[]
  options: { blockMs: number; count: number }
  settled: boolean
  resolve(reply: StreamReadReply | null): void
  reject(error: unknown): void
}

/**
 * A StreamReader whose reads the test answers. Like the real one, `wake()` ends a read in flight with
 * null and `destroy()` makes it reject; both are counted. `reconnected(maxMs)` waits `maxMs`, or until
 * the test calls `reconnect()` (the connection's 'ready').
 */
class FakeReader implements StreamReader {
  ready = true
  wakes = 0
  destroys = 0
  readonly reads: Read[] = []
  readonly #awaitingReady = new Set<() => void>()

  read(streams: readonly StreamCursor[], options: { blockMs: number; count: number }) {
    return new Promise<StreamReadReply | null>((resolve, reject) => {
      const read: Read = {
        streams: streams.map((cursor) => ({ ...cursor })),
        options,
        settled: false,
        resolve: (reply) => {
          read.settled = true
          resolve(reply)
        },
        reject: (error) => {
          read.settled = true
          reject(error)
        },
      }
      this.reads.push(read)
    })
  }

  wake(): void {
    this.wakes++
    this.#pending()?.resolve(null)
  }

  reconnected(maxMs: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer)
        this.#awaitingReady.delete(done)
        resolve()
      }
      const timer = setTimeout(done, maxMs)
      this.#awaitingReady.add(done)
    })
  }

  /** The connection is back ('ready'). */
  reconnect(): void {
    for (const done of this.#awaitingReady) done()
  }

  destroy(): void {
    this.destroys++
    this.#pending()?.reject(new RedisUnavailableError('destroyed'))
  }

  /** Read number `n` (from 0), once the hub has made it. */
  async nth(n: number): Promise<Read> {
    await vi.waitFor(
      () => {
        if (!this.reads[n]) throw new Error(`read ${n} not made; ${this.reads.length} so far`)
      },
      { timeout: 1000, interval: 2 },
    )
    return this.reads[n] as Read
  }

  #pending(): Read | undefined {
    const last = this.reads.at(-1)
    return last && !last.settled ? last : undefined
  }
}

class Listener implements FeedListener {
  readonly offers: LiveItem[] = []
  ends = 0
  endResult: Promise<void> = Promise.resolve()

  offer(item: LiveItem): boolean {
    this.offers.push(item)
    return true
  }

  end(): Promise<void> {
    this.ends++
    return this.endResult
  }

  get ids(): string[] {
    return this.offers.map((item) => item.id)
  }
}

function hubOver(logger: Logger = silent) {
  const reader = new FakeReader()
  return { reader, hub: new LiveHub({ reader, logger }) }
}

const OPTIONS = { blockMs: 2000, count: 1000 }

afterEach(() => {
  vi.restoreAllMocks()
})

describe('LiveHub: joining and dispatch', () => {
  it("starts reading a buffer from its first subscriber's newest id", () => {
    const { reader, hub } = hubOver()
    const membership = hub.join('a', id(5), new Listener())
    expect(reader.reads.map(({ streams, options }) => ({ streams, options }))).toEqual([
      { streams: [{ key: A, id: id(5) }], options: OPTIONS },
    ])
    expect(membership?.lastSeen).toBe(id(5))
    expect(hub.subscribers('a')).toBe(1)
    // A second subscriber's newest id does not move the feed: the reader already reads from 5.
    const second = hub.join('a', id(9), new Listener())
    expect(second?.lastSeen).toBe(id(5))
    expect(hub.subscribers('a')).toBe(2)
    expect(reader.reads).toHaveLength(1)
    expect(reader.wakes).toBe(0)
  })

  it('wakes a blocked read for a new buffer, and dispatches in order to every listener, encoded once', async () => {
    const { reader, hub } = hubOver()
    const [a1, a2, b1] = [new Listener(), new Listener(), new Listener()]
    const inA = hub.join('a', id(5), a1)
    hub.join('a', id(5), a2)
    expect(reader.wakes).toBe(0)
    const inB = hub.join('b', id(3), b1)
    expect(reader.wakes).toBe(1)
    // The woken read ended with nothing; the next one covers both buffers.
    const read = await reader.nth(1)
    expect(read.streams).toEqual([
      { key: A, id: id(5) },
      { key: B, id: id(3) },
    ])

    read.resolve({ [A]: entries(6, 7, 8), [B]: entries(4), [keys.bufferItems('gone')]: entries(1) })
    const next = await reader.nth(2)
    expect(a1.ids).toEqual([id(6), id(7), id(8)])
    expect(a1.offers.map(({ prev }) => prev)).toEqual([id(5), id(6), id(7)])
    expect(a1.offers.map(({ frame }) => Buffer.from(frame).toString())).toEqual([text(6), text(7), text(8)])
    expect(a2.ids).toEqual(a1.ids)
    for (const [i, offer] of a2.offers.entries()) expect(offer.frame).toBe(a1.offers[i]?.frame)
    expect(b1.ids).toEqual([id(4)])
    expect(b1.offers[0]?.prev).toBe(id(3))
    expect(inA?.lastSeen).toBe(id(8))
    expect(inB?.lastSeen).toBe(id(4))
    expect(next.streams).toEqual([
      { key: A, id: id(8) },
      { key: B, id: id(4) },
    ])
    // Joining a buffer the read in flight covers needs no wake.
    hub.join('b', id(4), new Listener())
    expect(reader.wakes).toBe(1)
  })

  it('wakes a read once for a stream that adds several buffers at once', async () => {
    const { reader, hub } = hubOver()
    hub.join('a', id(0), new Listener())
    for (const name of ['b', 'c', 'd']) hub.join(name, id(0), new Listener())
    expect(reader.wakes).toBe(1)
    expect((await reader.nth(1)).streams.map(({ key }) => key)).toEqual(
      ['a', 'b', 'c', 'd'].map((name) => keys.bufferItems(name)),
    )
    hub.join('e', id(0), new Listener())
    expect(reader.wakes).toBe(2)
  })

  it('skips items at or before a feed recreated during the read', async () => {
    const { reader, hub } = hubOver()
    const first = new Listener()
    const left = hub.join('a', id(0), first)
    const read = await reader.nth(0)
    // The only subscriber leaves and a new one joins while the read from 0 is in flight: the new feed
    // starts at 3, the newest id its subscriber read.
    left?.leave()
    const second = new Listener()
    const joined = hub.join('a', id(3), second)
    expect(reader.wakes).toBe(0)
    read.resolve({ [A]: entries(1, 2, 3, 4) })
    const next = await reader.nth(1)
    expect(first.ids).toEqual([])
    expect(second.ids).toEqual([id(4)])
    expect(joined?.lastSeen).toBe(id(4))
    expect(next.streams).toEqual([{ key: A, id: id(4) }])
  })
})

describe('LiveHub: read failures', () => {
  it('retries a failed read after a backoff, from the last id handed out, and reports it until a read succeeds', async () => {
    const { logger, lines } = captureLogs()
    const { reader, hub } = hubOver(logger)
    const listener = new Listener()
    hub.join('a', id(0), listener)
    ;(await reader.nth(0)).resolve({ [A]: entries(1, 2) })
    const failing = await reader.nth(1)
    expect(hub.health()).toBeUndefined()

    const failedAt = performance.now()
    failing.reject(new RedisUnavailableError('connection lost'))
    await settle()
    expect(hub.health()).toBe('live reader failing: Redis is unavailable, retry shortly')
    expect(reader.reads).toHaveLength(2)

    const retry = await reader.nth(2)
    // backoffDelay(1): 100 ms.
    expect(performance.now() - failedAt).toBeGreaterThanOrEqual(90)
    expect(retry.streams).toEqual([{ key: A, id: id(2) }])
    // Still failing until a read succeeds.
    expect(hub.health()).toBe('live reader failing: Redis is unavailable, retry shortly')
    retry.resolve({ [A]: entries(3) })
    await reader.nth(3)
    expect(hub.health()).toBeUndefined()
    expect(listener.ids).toEqual([id(1), id(2), id(3)])
    expect(reader.reads[3]?.streams).toEqual([{ key: A, id: id(3) }])
    expect(lines().map(({ level, msg }) => ({ level, msg }))).toEqual([
      { level: 40, msg: 'live reader: read failed; retrying' },
      { level: 30, msg: 'live reader: reading again' },
    ])
  })

  it('retries as soon as the connection is back, with a read that does not block, then blocks again', async () => {
    const { reader, hub } = hubOver()
    hub.join('a', id(0), new Listener())
    ;(await reader.nth(0)).reject(new RedisUnavailableError('connection lost'))
    await settle()
    // Two more failures (after 100 and 200 ms): the backoff is now 400 ms.
    for (let n = 1; n <= 2; n++) (await reader.nth(n)).reject(new RedisUnavailableError('connection lost'))
    await settle()
    expect(reader.reads).toHaveLength(3)

    const backAt = performance.now()
    reader.reconnect()
    const retry = await reader.nth(3)
    expect(performance.now() - backAt).toBeLessThan(200)
    expect(retry.options).toEqual({ blockMs: 0, count: 1000 })
    expect(hub.health()).toBe('live reader failing: Redis is unavailable, retry shortly')
    // Answered at once with nothing new: readiness passes, and reading blocks again.
    retry.resolve(null)
    expect((await reader.nth(4)).options).toEqual(OPTIONS)
    expect(hub.health()).toBeUndefined()
  })
})

describe('LiveHub: health', () => {
  it('is undefined with no subscribers, whatever the reader does', async () => {
    const { reader, hub } = hubOver()
    reader.ready = false
    expect(hub.health()).toBeUndefined()

    const membership = hub.join('a', id(0), new Listener())
    expect(hub.health()).toBe('live reader disconnected from Redis')
    reader.ready = true
    expect(hub.health()).toBeUndefined()
    ;(await reader.nth(0)).reject(new RedisUnavailableError('connection lost'))
    await settle()
    expect(hub.health()).toBe('live reader failing: Redis is unavailable, retry shortly')

    membership?.leave()
    expect(hub.health()).toBeUndefined()
    reader.ready = false
    expect(hub.health()).toBeUndefined()
  })

  it('reports a read pending longer than the block time plus a second as stuck', async () => {
    const now = vi.spyOn(performance, 'now').mockReturnValue(10_000)
    const { reader, hub } = hubOver()
    hub.join('a', id(0), new Listener())
    expect(reader.reads).toHaveLength(1)
    now.mockReturnValue(13_000)
    expect(hub.health()).toBeUndefined()
    now.mockReturnValue(13_001.6)
    expect(hub.health()).toBe('live reader stuck: no reply for 3002 ms')
    now.mockRestore()
    reader.reads[0]?.resolve(null)
    await reader.nth(1)
    expect(hub.health()).toBeUndefined()
  })
})

describe('LiveHub: leaving and closing', () => {
  it('drops a buffer whose last listener left from the next read; one that keeps a listener stays', async () => {
    const { reader, hub } = hubOver()
    const [a1, a2, b1] = [new Listener(), new Listener(), new Listener()]
    const inA1 = hub.join('a', id(0), a1)
    const inA2 = hub.join('a', id(0), a2)
    const inB = hub.join('b', id(0), b1)
    const read = await reader.nth(1)
    expect(read.streams.map(({ key }) => key)).toEqual([A, B])

    inA1?.leave()
    read.resolve(null)
    expect((await reader.nth(2)).streams.map(({ key }) => key)).toEqual([A, B])
    inA2?.leave()
    expect(hub.subscribers('a')).toBe(0)
    // A stale membership leaving again must not touch a feed recreated since.
    const a3 = new Listener()
    hub.join('a', id(5), a3)
    inA1?.leave()
    expect(hub.subscribers('a')).toBe(1)

    inB?.leave()
    reader.reads[2]?.resolve({ [A]: entries(1, 6), [B]: entries(1) })
    const next = await reader.nth(3)
    expect(next.streams).toEqual([{ key: A, id: id(6) }])
    expect([a1.ids, a2.ids, b1.ids, a3.ids]).toEqual([[], [], [], [id(6)]])
    expect(reader.wakes).toBe(1)
  })

  it('goes idle with no subscribers, and reads again at once when one joins', async () => {
    const { reader, hub } = hubOver()
    hub.join('a', id(0), new Listener())?.leave()
    reader.reads[0]?.resolve({ [A]: entries(1) })
    await settle()
    await settle()
    expect(reader.reads).toHaveLength(1)
    hub.join('b', id(7), new Listener())
    expect((await reader.nth(1)).streams).toEqual([{ key: B, id: id(7) }])
    expect(reader.wakes).toBe(0)
  })

  it('ends every listener, then destroys the reader; join after close returns null', async () => {
    const { reader, hub } = hubOver()
    const [a1, a2, b1] = [new Listener(), new Listener(), new Listener()]
    let finishA1!: () => void
    a1.endResult = new Promise((resolve) => {
      finishA1 = resolve
    })
    hub.join('a', id(0), a1)
    hub.join('a', id(0), a2)
    hub.join('b', id(0), b1)
    const read = await reader.nth(1)

    const closing = hub.close()
    expect([a1.ends, a2.ends, b1.ends]).toEqual([1, 1, 1])
    expect(hub.closed).toBe(true)
    await settle()
    // The reader goes only once every stream has ended.
    expect(reader.destroys).toBe(0)
    expect(read.settled).toBe(false)
    finishA1()
    await closing
    expect(reader.destroys).toBe(1)
    expect(read.settled).toBe(true)
    await settle()
    expect(reader.reads).toHaveLength(2)

    const late = new Listener()
    expect(hub.join('a', id(0), late)).toBeNull()
    expect(hub.subscribers('a')).toBe(0)
    expect(hub.health()).toBeUndefined()
    await hub.close()
    expect([a1.ends, a2.ends, b1.ends, late.ends]).toEqual([1, 1, 1, 0])
    expect(reader.destroys).toBe(1)
    expect(reader.reads).toHaveLength(2)
  })
})
