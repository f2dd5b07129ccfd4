import { setTimeout as sleep } from 'node:timers/promises'
import { pino } from 'pino'
import { describe, expect, it, vi } from 'vitest'
import { BEFORE_ALL, compareItemIds } from '../../../src/buffers/ids.js'
import type { BufferItem } from '../../../src/buffers/items.js'
import {
  CATCH_UP_PAGE,
  Follower,
  type FollowerOutbox,
  PageTurns,
} from '../../../src/buffers/live/follower.js'
import { type LiveItem, liveItem, type Membership } from '../../../src/buffers/live/hub.js'
import type { BufferStore, Page, ReadFrom, Reset } from '../../../src/buffers/store.js'
import type { Logger } from '../../../src/process/logger.js'
import { RedisTimeoutError, RedisUnavailableError } from '../../../src/redis/failures.js'
import { captureLogs } from '../../support/logs.js'

const NAME = 'orders'
const silent: Logger = pino({ level: 'silent' })

/** Ids of one millisecond: `1700000000000-0`, `-1`, ... (the sequence crosses digit counts at 10 and 100). */
const id = (n: number) => `1700000000000-${n}`
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i)

/** Item n of a stream; its `prev` is item n - 1, as buffer-append.lua records it. */
function item(n: number, prev = n === 0 ? '' : id(n - 1)): BufferItem {
  return { id: id(n), event: 'num', data: JSON.stringify({ n }), time: 1_700_000_000_000, prev }
}

/** What the hub offers for an item. */
const live = (entry: BufferItem): LiveItem => liveItem(NAME, entry)

/** An item's frame as the client reads it, written out by hand (not through itemFrame). */
const text = (n: number) => `id: ${id(n)}\nevent: num\ndata: {"n":${n}}\n\n`
const texts = (ns: number[]) => ns.map(text)
const resetText = (reason: string, oldestId: string | null) =>
  `event: reset\ndata: {"reason":"${reason}","oldestId":${oldestId === null ? 'null' : `"${oldestId}"`}}\n\n`

/** Lets every promise chain that is not waiting on the test run to its end. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve))

/**
 * A buffer in memory with BufferStore's read semantics: items after `{after}` (or from the oldest), at
 * most `limit`, and the newest id. A read answers with what the buffer held when it was made, even if
 * held back (`hold`) until after later appends, as a Redis reply in flight would.
 */
class FakeStore implements Pick<BufferStore, 'read'> {
  items: BufferItem[] = []
  readonly reads: { name: string; from: ReadFrom; limit: number }[] = []
  /** What the next reads throw, in order. */
  readonly failures: unknown[] = []
  /** A reset for the next read to answer with (items then start at the oldest retained). */
  nextReset: Reset | null = null
  readonly #holds: Promise<void>[] = []

  append(...ns: number[]): void {
    for (const n of ns) this.items.push(item(n))
  }

  /** Holds back the answer of the next read until the returned function is called. */
  hold(): () => void {
    let release!: () => void
    this.#holds.push(
      new Promise<void>((resolve) => {
        release = resolve
      }),
    )
    return release
  }

  async read(name: string, from: ReadFrom, limit: number): Promise<Page> {
    this.reads.push({ name, from, limit })
    const failure = this.failures.shift()
    const held = this.#holds.shift()
    const page = this.#page(from, limit)
    if (held) await held
    if (failure !== undefined) throw failure
    return page
  }

  #page(from: ReadFrom, limit: number): Page {
    const reset = this.nextReset
    this.nextReset = null
    const newestId = this.items.at(-1)?.id ?? null
    if (from === 'newest') return { items: [], reset, newestId }
    const after = reset || from === 'oldest' ? BEFORE_ALL : from.after
    const items = this.items.filter((entry) => compareItemIds(entry.id, after) > 0).slice(0, limit)
    return { items, reset, newestId }
  }
}

/**
 * An outbox with the real one's contract: frames recorded as text; `hold()` is a client that stopped
 * reading (frames queue, `writes` stops, `drained()` waits); `release()` is the socket draining (the
 * queue goes out in one write); closing, overflow and end settle every wait.
 */
class FakeOutbox implements FollowerOutbox {
  open = true
  writes = 0
  readonly frames: string[] = []
  /** Whether each recorded frame was pushed as `paced`. */
  readonly pacing: boolean[] = []
  /** Every push, refused ones included. */
  pushes = 0
  overflows = 0
  readonly ends: number[] = []
  /** The client leaves once it has been pushed this many frames. */
  closeAfter = Number.POSITIVE_INFINITY
  #held = false
  #queued = 0
  #waiters: (() => void)[] = []

  push(frame: Uint8Array, { paced = false }: { paced?: boolean } = {}): boolean {
    this.pushes++
    if (!this.open) return false
    this.frames.push(Buffer.from(frame).toString())
    this.pacing.push(paced)
    if (this.#held) this.#queued++
    else this.writes++
    if (this.frames.length >= this.closeAfter) this.close()
    return true
  }

  drained(): Promise<void> {
    if (!this.#held || !this.open) return Promise.resolve()
    return new Promise((resolve) => this.#waiters.push(resolve))
  }

  overflow(): void {
    this.overflows++
    this.close()
  }

  end(graceMs: number): Promise<void> {
    this.ends.push(graceMs)
    this.close()
    return Promise.resolve()
  }

  hold(): void {
    this.#held = true
  }

  release(): void {
    this.#held = false
    if (this.#queued > 0) this.writes++
    this.#queued = 0
    this.#wake()
  }

  /** The client went away. */
  close(): void {
    this.open = false
    this.#wake()
  }

  #wake(): void {
    const waiters = this.#waiters
    this.#waiters = []
    for (const resolve of waiters) resolve()
  }
}

interface SubscribeOptions {
  maxBehind?: number
  logger?: Logger
  /** The hub's newest id for the buffer when the follower joins; by default the first page's newest id. */
  lastSeen?: string
  /** Runs between the first read and the join, as appends may. */
  afterFirstRead?: () => void
}

/**
 * Opens a follower as Subscriptions.subscribe does, minus the hub: the first page is read before the
 * stream opens and sent, then the follower follows from a membership whose lastSeen the test chooses.
 */
async function subscribe(
  store: FakeStore,
  outbox: FakeOutbox,
  start: ReadFrom,
  { maxBehind = 1000, logger = silent, lastSeen, afterFirstRead }: SubscribeOptions = {},
) {
  const first = await store.read(NAME, start, CATCH_UP_PAGE)
  afterFirstRead?.()
  const cursor =
    start === 'newest' ? (first.newestId ?? BEFORE_ALL) : start === 'oldest' ? BEFORE_ALL : start.after
  const follower = new Follower({ name: NAME, store, outbox, logger, endGraceMs: 2000, maxBehind }, cursor)
  follower.sendPage(first)
  const membership: Membership = { lastSeen: lastSeen ?? first.newestId ?? BEFORE_ALL, leave: () => {} }
  follower.follow(membership, first.items.length === CATCH_UP_PAGE)
  return follower
}

/** The catch-up reads after the first page. */
const catchUpReads = (store: FakeStore) => store.reads.slice(1).map(({ from }) => from)

describe('Follower: catch-up', () => {
  it('reads pages after a full first page, then hands over to live offers with no gap and no duplicate', async () => {
    const store = new FakeStore()
    store.append(...range(0, 249))
    const outbox = new FakeOutbox()
    const follower = await subscribe(store, outbox, 'oldest')
    await settle()

    expect(store.reads).toEqual([
      { name: NAME, from: 'oldest', limit: CATCH_UP_PAGE },
      { name: NAME, from: { after: id(99) }, limit: CATCH_UP_PAGE },
      { name: NAME, from: { after: id(199) }, limit: CATCH_UP_PAGE },
    ])
    expect(outbox.frames).toEqual(texts(range(0, 249)))

    store.append(250, 251)
    follower.offer(live(item(250)))
    follower.offer(live(item(251)))
    await settle()
    expect(outbox.frames).toEqual(texts(range(0, 251)))
    expect(store.reads).toHaveLength(3)
    // Pages are paced (they wait for drained); live items are held to the outbox's bounds.
    expect(outbox.pacing).toEqual([...range(0, 249).map(() => true), false, false])
  })

  it('reads first when the hub has already handed out items newer than the first page', async () => {
    const store = new FakeStore()
    store.append(...range(0, 5))
    const outbox = new FakeOutbox()
    // Items 6 and 7 are appended, and handed out by the hub, between the first read and the join.
    await subscribe(
      store,
      outbox,
      { after: id(3) },
      { lastSeen: id(7), afterFirstRead: () => store.append(6, 7) },
    )
    await settle()
    expect(catchUpReads(store)).toEqual([{ after: id(5) }])
    expect(outbox.frames).toEqual(texts(range(4, 7)))
  })

  it('does not read after a short first page when the hub has handed out nothing newer', async () => {
    const store = new FakeStore()
    store.append(...range(0, 5))
    const outbox = new FakeOutbox()
    const follower = await subscribe(store, outbox, { after: id(3) })
    await settle()
    expect(store.reads).toHaveLength(1)
    store.append(6)
    follower.offer(live(item(6)))
    expect(outbox.frames).toEqual(texts([4, 5, 6]))
    expect(store.reads).toHaveLength(1)
  })

  it('waits for the client to take what is queued before reading the next page', async () => {
    const store = new FakeStore()
    store.append(...range(0, 349))
    const outbox = new FakeOutbox()
    outbox.hold()
    await subscribe(store, outbox, 'oldest')
    await settle()
    // The full first page is queued, unread; one page is read meanwhile, then catch-up waits.
    expect(catchUpReads(store)).toEqual([{ after: id(99) }])
    expect(outbox.frames).toEqual(texts(range(0, 199)))
    outbox.release()
    outbox.hold()
    await settle()
    expect(catchUpReads(store)).toEqual([{ after: id(99) }, { after: id(199) }])
    expect(outbox.frames).toEqual(texts(range(0, 299)))
    outbox.release()
    await settle()
    expect(catchUpReads(store)).toEqual([{ after: id(99) }, { after: id(199) }, { after: id(299) }])
    expect(outbox.frames).toEqual(texts(range(0, 349)))
  })

  it('reads again when an item was offered while a page read was in flight: the item is not lost', async () => {
    const store = new FakeStore()
    store.append(...range(0, 4))
    const outbox = new FakeOutbox()
    const follower = await subscribe(store, outbox, 'newest')
    store.append(5, 6)
    const release = store.hold()
    // 6 follows 5, which this follower was never offered: a gap, so it catches up.
    follower.offer(live(item(6)))
    expect(catchUpReads(store)).toEqual([{ after: id(4) }])
    // 7 is appended after that read was answered, and offered before its reply arrives.
    store.append(7)
    follower.offer(live(item(7)))
    expect(outbox.frames).toEqual([])
    release()
    await settle()
    expect(catchUpReads(store)).toEqual([{ after: id(4) }, { after: id(6) }])
    expect(outbox.frames).toEqual(texts([5, 6, 7]))

    // Live again: the next item goes straight out.
    store.append(8)
    follower.offer(live(item(8)))
    expect(outbox.frames).toEqual(texts([5, 6, 7, 8]))
    expect(store.reads).toHaveLength(3)
  })

  it('does not duplicate an item offered while a page read that already has it was in flight', async () => {
    const store = new FakeStore()
    store.append(...range(0, 4))
    const outbox = new FakeOutbox()
    const follower = await subscribe(store, outbox, 'newest')
    store.append(5, 6, 7)
    const release = store.hold()
    follower.offer(live(item(6)))
    follower.offer(live(item(7)))
    release()
    await settle()
    expect(catchUpReads(store)).toEqual([{ after: id(4) }, { after: id(7) }])
    expect(outbox.frames).toEqual(texts([5, 6, 7]))
    store.append(8)
    follower.offer(live(item(8)))
    expect(outbox.frames).toEqual(texts([5, 6, 7, 8]))
  })
})

describe('Follower: Redis trouble during catch-up', () => {
  it.each([
    ['RedisUnavailableError', new RedisUnavailableError('connection lost')],
    ['RedisTimeoutError', new RedisTimeoutError(300)],
  ])(
    'retries a read failing with %s, keeping the stream open, then carries on from the cursor',
    async (_, error) => {
      const store = new FakeStore()
      store.append(...range(0, 3))
      const outbox = new FakeOutbox()
      const follower = await subscribe(store, outbox, 'newest')
      store.failures.push(error)
      store.append(4, 5)
      const started = performance.now()
      follower.offer(live(item(5)))
      await settle()
      expect(catchUpReads(store)).toEqual([{ after: id(3) }])
      expect(outbox.open).toBe(true)
      expect(outbox.ends).toEqual([])

      await vi.waitFor(() => expect(outbox.frames).toEqual(texts([4, 5])), { timeout: 1000, interval: 5 })
      // backoffDelay(1): 100 ms.
      expect(performance.now() - started).toBeGreaterThanOrEqual(90)
      expect(catchUpReads(store)).toEqual([{ after: id(3) }, { after: id(3) }])
      expect(outbox.ends).toEqual([])
      store.append(6)
      follower.offer(live(item(6)))
      expect(outbox.frames).toEqual(texts([4, 5, 6]))
    },
  )

  it('ends the stream at once when a read fails with anything else, and logs it', async () => {
    const store = new FakeStore()
    store.append(...range(0, 3))
    const outbox = new FakeOutbox()
    const { logger, lines } = captureLogs()
    const follower = await subscribe(store, outbox, 'newest', { logger })
    store.failures.push(new TypeError('not a page'))
    store.append(4, 5)
    follower.offer(live(item(5)))
    await settle()
    expect(outbox.ends).toEqual([0])
    expect(outbox.open).toBe(false)
    expect(outbox.frames).toEqual([])
    expect(catchUpReads(store)).toEqual([{ after: id(3) }])
    expect(lines()).toMatchObject([
      {
        level: 50,
        buffer: NAME,
        msg: 'sse: catch-up failed; ending the stream',
        err: { message: 'not a page' },
      },
    ])
  })

  it('stops retrying once the client has left', async () => {
    const store = new FakeStore()
    store.append(...range(0, 3))
    const outbox = new FakeOutbox()
    const follower = await subscribe(store, outbox, 'newest')
    for (let i = 0; i < 5; i++) store.failures.push(new RedisUnavailableError('connection lost'))
    store.append(4, 5)
    follower.offer(live(item(5)))
    await settle()
    outbox.close()
    // Past the first backoff (100 ms): a retry would have read again by now.
    await sleep(150)
    expect(catchUpReads(store)).toEqual([{ after: id(3) }])
    expect(outbox.ends).toEqual([])
  })
})

describe('Follower: leaving', () => {
  it('stops sending and reading when the outbox closes in the middle of a page', async () => {
    const store = new FakeStore()
    store.append(...range(0, 249))
    const outbox = new FakeOutbox()
    // The client leaves after taking item 129, in the middle of the first catch-up page (100..199).
    outbox.closeAfter = 130
    await subscribe(store, outbox, 'oldest')
    await settle()
    expect(outbox.frames).toEqual(texts(range(0, 129)))
    // One refused push (item 130), then nothing more.
    expect(outbox.pushes).toBe(131)
    expect(catchUpReads(store)).toEqual([{ after: id(99) }])
    await settle()
    expect(store.reads).toHaveLength(2)
  })
})

describe('Follower: live offers', () => {
  /** A follower live at item 5 of items 0..5, with nothing read after its first page. */
  async function liveAt5() {
    const store = new FakeStore()
    store.append(...range(0, 5))
    const outbox = new FakeOutbox()
    const follower = await subscribe(store, outbox, 'newest')
    await settle()
    expect(store.reads).toHaveLength(1)
    return { store, outbox, follower }
  }

  /** Appends items `ns` and offers them live: each goes out at once, unpaced, and nothing is read. */
  async function expectSentLive(store: FakeStore, outbox: FakeOutbox, follower: Follower, ns: number[]) {
    const reads = store.reads.length
    store.append(...ns)
    for (const n of ns) follower.offer(live(item(n)))
    expect(outbox.frames).toEqual(texts(ns))
    expect(outbox.pacing).toEqual(ns.map(() => false))
    await settle()
    expect(store.reads).toHaveLength(reads)
  }

  it('pushes an item whose prev is the cursor, unpaced, and moves the cursor to it', async () => {
    const { store, outbox, follower } = await liveAt5()
    await expectSentLive(store, outbox, follower, [6, 7])
  })

  it('pushes an item whose prev is before the cursor (a cursor the stream never issued)', async () => {
    const store = new FakeStore()
    store.items = [item(2), item(4, id(2)), item(7, id(4))]
    const outbox = new FakeOutbox()
    // A client resuming after 3: 4 follows 2, so nothing between the cursor and 4 is missing.
    const follower = new Follower(
      { name: NAME, store, outbox, logger: silent, endGraceMs: 2000, maxBehind: 1000 },
      id(3),
    )
    follower.offer(live(item(4, id(2))))
    follower.offer(live(item(7, id(4))))
    await settle()
    expect(outbox.frames).toEqual(texts([4, 7]))
    expect(store.reads).toEqual([])
  })

  it('catches up on a gap (prev after the cursor) instead of pushing the item', async () => {
    const { store, outbox, follower } = await liveAt5()
    store.append(6, 7, 8)
    follower.offer(live(item(8)))
    expect(outbox.frames).toEqual([])
    await settle()
    expect(catchUpReads(store)).toEqual([{ after: id(5) }])
    expect(outbox.frames).toEqual(texts([6, 7, 8]))
    expect(outbox.pacing).toEqual([true, true, true])
  })

  it('catches up on the first item of a new stream (prev empty)', async () => {
    const { store, outbox, follower } = await liveAt5()
    // The buffer was deleted and recreated: its first item has no prev, and reading after 5 is a reset.
    store.items = [item(20, ''), item(21, id(20))]
    store.nextReset = { reason: 'deleted', oldestId: id(20) }
    follower.offer(live(item(20, '')))
    expect(outbox.frames).toEqual([])
    await settle()
    expect(catchUpReads(store)).toEqual([{ after: id(5) }])
    expect(outbox.frames).toEqual([resetText('deleted', id(20)), ...texts([20, 21])])
  })

  it('pushes the first item of a stream to a follower of a buffer that had none, without a read', async () => {
    // Followed live before its first item: the cursor is 0-0, and an item without a prev is the next one.
    const store = new FakeStore()
    const outbox = new FakeOutbox()
    const follower = await subscribe(store, outbox, 'newest')
    await settle()
    await expectSentLive(store, outbox, follower, [0, 1])
  })

  it('drops an item at or before the cursor', async () => {
    const { store, outbox, follower } = await liveAt5()
    follower.offer(live(item(5)))
    follower.offer(live(item(2)))
    follower.offer(live(item(0)))
    await settle()
    expect(outbox.frames).toEqual([])
    expect(store.reads).toHaveLength(1)
    store.append(6)
    follower.offer(live(item(6)))
    expect(outbox.frames).toEqual(texts([6]))
  })
})

describe('Follower: resets', () => {
  it('sends the reset frame, then the items from the oldest, and follows on from them', async () => {
    const store = new FakeStore()
    store.append(...range(0, 5))
    const outbox = new FakeOutbox()
    const follower = await subscribe(store, outbox, 'newest')
    // An outage: meanwhile 6..14 were appended and 0..9 trimmed away.
    store.append(...range(6, 14))
    store.items = store.items.filter((entry) => compareItemIds(entry.id, id(10)) >= 0)
    store.nextReset = { reason: 'trimmed', oldestId: id(10) }
    follower.offer(live(item(14)))
    await settle()
    expect(catchUpReads(store)).toEqual([{ after: id(5) }])
    expect(outbox.frames).toEqual([resetText('trimmed', id(10)), ...texts(range(10, 14))])
    store.append(15)
    follower.offer(live(item(15)))
    expect(outbox.frames.slice(6)).toEqual(texts([15]))
  })

  it('restarts the cursor from 0-0 after a reset with no items', async () => {
    const store = new FakeStore()
    const outbox = new FakeOutbox()
    // A client resuming after 3 of a buffer that has since been deleted.
    store.nextReset = { reason: 'deleted', oldestId: null }
    const follower = await subscribe(store, outbox, { after: id(3) })
    await settle()
    expect(outbox.frames).toEqual([resetText('deleted', null)])
    expect(store.reads).toHaveLength(1)
    // Recreated: the first item of the new stream is the next after 0-0, then the one after it.
    store.items = [item(20, ''), item(21, id(20))]
    follower.offer(live(item(20, '')))
    follower.offer(live(item(21, id(20))))
    await settle()
    expect(catchUpReads(store)).toEqual([])
    expect(outbox.frames).toEqual([resetText('deleted', null), ...texts([20, 21])])
  })
})

describe('Follower: slow clients during catch-up', () => {
  /** A follower whose first page the client has not taken yet: it is catching up, waiting on drained. */
  async function catchingUp(maxBehind: number) {
    const store = new FakeStore()
    store.append(...range(0, 9))
    const outbox = new FakeOutbox()
    outbox.hold()
    const follower = await subscribe(store, outbox, { after: id(4) }, { maxBehind })
    await settle()
    expect(outbox.frames).toEqual(texts(range(5, 9)))
    expect(outbox.writes).toBe(0)
    return { store, outbox, follower }
  }

  it('disconnects a client that lets more than maxBehind live items go by without taking a write', async () => {
    const { store, outbox, follower } = await catchingUp(3)
    for (const n of [10, 11, 12]) {
      store.append(n)
      follower.offer(live(item(n)))
    }
    expect(outbox.overflows).toBe(0)
    store.append(13)
    follower.offer(live(item(13)))
    expect(outbox.overflows).toBe(1)
    // Counted, never queued.
    expect(outbox.frames).toEqual(texts(range(5, 9)))
  })

  it('counts afresh whenever the client takes a write', async () => {
    const { store, outbox, follower } = await catchingUp(3)
    for (const n of [10, 11, 12]) {
      store.append(n)
      follower.offer(live(item(n)))
    }
    // The client takes the queued page, then falls behind again on the next one.
    outbox.release()
    outbox.hold()
    await settle()
    expect(catchUpReads(store)).toEqual([{ after: id(9) }])
    expect(outbox.frames).toEqual(texts(range(5, 12)))
    expect(outbox.writes).toBe(1)
    for (const n of [13, 14, 15]) {
      store.append(n)
      follower.offer(live(item(n)))
    }
    expect(outbox.overflows).toBe(0)
    store.append(16)
    follower.offer(live(item(16)))
    expect(outbox.overflows).toBe(1)
  })

  it('never counts live items outside catch-up: the outbox bounds those', async () => {
    const store = new FakeStore()
    store.append(...range(0, 4))
    const outbox = new FakeOutbox()
    const follower = await subscribe(store, outbox, 'newest', { maxBehind: 2 })
    await settle()
    outbox.hold()
    for (const n of range(5, 9)) {
      store.append(n)
      follower.offer(live(item(n)))
    }
    expect(outbox.overflows).toBe(0)
    expect(outbox.frames).toEqual(texts(range(5, 9)))
  })
})

describe('Follower: the buffers of one stream', () => {
  it('take turns to catch up: one page at a time, each read once the page before it was taken', async () => {
    const [first, second] = [new FakeStore(), new FakeStore()]
    first.append(...range(0, 149))
    second.append(...range(0, 149))
    const outbox = new FakeOutbox()
    outbox.hold()
    const turns = new PageTurns()
    const follow = (store: FakeStore) =>
      new Follower(
        { name: NAME, store, outbox, logger: silent, endGraceMs: 2000, maxBehind: 1000, turns },
        BEFORE_ALL,
      ).follow({ lastSeen: id(149), leave: () => {} }, true)
    follow(first)
    follow(second)
    await settle()
    const reads = () => [first.reads.length, second.reads.length]
    // The first has read its page, which waits for the client; the second waits its turn.
    expect(reads()).toEqual([1, 0])
    const taken = async (expected: number[]) => {
      outbox.release()
      outbox.hold()
      await settle()
      expect(reads()).toEqual(expected)
    }
    await taken([1, 1])
    await taken([2, 1])
    await taken([2, 2])
    outbox.release()
    await settle()
    expect(outbox.frames).toEqual([
      ...texts(range(0, 99)),
      ...texts(range(0, 99)),
      ...texts(range(100, 149)),
      ...texts(range(100, 149)),
    ])
  })
})
