import { AsyncResource } from 'node:async_hooks'
import { backoffDelay } from '../../lib/backoff.js'
import type { Logger } from '../../process/logger.js'
import type { SseCounters } from '../../process/metrics.js'
import { keys } from '../../redis/keys.js'
import type { RawStreamEntry, StreamReader, StreamReadReply } from '../../redis/stream-reader.js'
import { compareItemIds } from '../ids.js'
import { type BufferItem, toBufferItem } from '../items.js'
import { envelopeFrame, itemFrame, type SetFrameMemo } from './frames.js'

/** An item as the live reader hands it out: each encoding is made once, for every subscriber. */
export interface LiveItem {
  readonly id: string
  /** The id before it in the stream; '' at the start of a stream. */
  readonly prev: string
  /** Its frame on a one-buffer stream (`id:` is the item's id). */
  readonly frame: Uint8Array
  /** Its frame on a stream of several buffers, without `id:`, which each such stream adds ({@link envelopeFrame}). */
  readonly envelope: Uint8Array
  /** The last frame a stream of several buffers made of it, for the next stream in the same state. */
  setFrame: SetFrameMemo | undefined
}

/**
 * The one-buffer frame is made at once: a plain field for the hot path (doc/architecture.md, "Hot path").
 * The envelope is made on first use, by a stream of several buffers.
 */
class SharedItem implements LiveItem {
  readonly id: string
  readonly prev: string
  readonly frame: Uint8Array
  setFrame: SetFrameMemo | undefined = undefined
  #envelope: Uint8Array | undefined

  constructor(
    readonly buffer: string,
    readonly item: BufferItem,
  ) {
    this.id = item.id
    this.prev = item.prev
    this.frame = itemFrame(item)
  }

  get envelope(): Uint8Array {
    this.#envelope ??= envelopeFrame(this.buffer, this.item)
    return this.#envelope
  }
}

/** The live reader's item `item` of buffer `buffer`. */
export const liveItem = (buffer: string, item: BufferItem): LiveItem => new SharedItem(buffer, item)

/** One subscriber of a buffer (an SSE response). */
export interface FeedListener {
  /**
   * Called synchronously for every new item, in order; says whether the item went out to the client
   * (written or queued), for the count of events sent. Must not throw.
   */
  offer(item: LiveItem): boolean
  /** Ends the subscriber's response cleanly (shutdown). */
  end(): Promise<void>
}

/** A listener's membership of a buffer's feed. */
export interface Membership {
  /** The newest id the live reader has handed out for this buffer (or started from). */
  readonly lastSeen: string
  leave(): void
}

export interface LiveHubOptions {
  reader: StreamReader
  logger: Logger
  /**
   * Called with the id of every session ended anywhere (logout, rotation, revocation), read from the
   * revocation stream in the same read as the buffers, so following it costs no connection. Only while
   * someone is subscribed: streams that could need ending exist only then.
   */
  onRevoked?: (sessionId: string) => void
  /** Where the hub counts live events sent and each live item's delivery lag (the app's metrics). */
  counters?: Pick<SseCounters, 'eventsSent' | 'deliveryLag'>
}

/**
 * How far back the revocation stream is read when the hub starts following it: a margin for the
 * clocks of this host and Redis, which issues the ids. Replaying a revocation is harmless.
 */
const REVOCATION_REPLAY_MS = 60_000

/** How long one XREAD blocks; also how often a healthy idle reader proves it is alive. */
const BLOCK_MS = 2000
/** The most entries read per buffer per XREAD. */
const READ_COUNT = 1000
/** A read pending this much longer than BLOCK_MS counts as stuck (readiness fails). */
const STUCK_AFTER_MS = 1000

/**
 * Seconds from an item's id time (the ms part of its Redis id: Redis's clock when it was appended) to
 * now. The two clocks may differ a little; an id from the future counts as no lag.
 */
function lagSeconds(id: string): number {
  const ms = Number(id.slice(0, id.indexOf('-')))
  return Math.max(0, Date.now() - ms) / 1000
}

class Feed {
  readonly listeners = new Set<FeedListener>()
  constructor(
    readonly name: string,
    readonly key: string,
    public lastSeen: string,
  ) {}
}

/** A class, not an object literal with closures: one small object per subscriber. */
class FeedMembership implements Membership {
  constructor(
    readonly feeds: Map<string, Feed>,
    readonly feed: Feed,
    readonly listener: FeedListener,
  ) {}

  get lastSeen(): string {
    return this.feed.lastSeen
  }

  leave(): void {
    const { feeds, feed } = this
    feed.listeners.delete(this.listener)
    if (feed.listeners.size === 0 && feeds.get(feed.key) === feed) feeds.delete(feed.key)
  }
}

/**
 * Live delivery for one app: a single reader (XREAD BLOCK on a dedicated connection; on a cluster,
 * announced reads over per-shard connections, see notified-stream-reader.ts) over every buffer that has
 * subscribers, fanning each new item out to them in process. The number of Redis
 * connections is therefore fixed, whatever the number of subscribers or buffers.
 *
 * The reader keeps, per buffer, the last id it handed out and always reads from there: after an outage
 * it resumes exactly where it stopped. When a buffer gains its first subscriber the block is ended
 * (CLIENT UNBLOCK) so the next XREAD includes it at once; a buffer that loses its last one simply drops
 * out of the next XREAD.
 */
export class LiveHub {
  readonly #reader: StreamReader
  readonly #logger: Logger
  readonly #onRevoked: ((sessionId: string) => void) | undefined
  readonly #counters: LiveHubOptions['counters']
  // Where the revocation stream is read from; undefined while nobody is subscribed.
  #revocationCursor: string | undefined
  readonly #feeds = new Map<string, Feed>()
  #running = false
  #closed = false
  #idle: (() => void) | undefined
  #readingKeys: ReadonlySet<string> | undefined
  #readStartedAt: number | undefined
  #failure: string | undefined
  // The reader's loop serves every subscriber, not the request whose join started it: it runs in the
  // async context the hub was built in, so that nothing bound to that request (its tracing span) is
  // carried into every read after it.
  readonly #startLoop = AsyncResource.bind(() => void this.#run())

  constructor({ reader, logger, onRevoked, counters }: LiveHubOptions) {
    this.#reader = reader
    this.#logger = logger
    this.#onRevoked = onRevoked
    this.#counters = counters
  }

  get closed(): boolean {
    return this.#closed
  }

  /**
   * Subscribes `listener` to buffer `name`. `newestId` is the buffer's newest id as the caller last
   * read it: where the reader starts if this is the buffer's first subscriber. Null once closed.
   */
  join(name: string, newestId: string, listener: FeedListener): Membership | null {
    if (this.#closed) return null
    const key = keys.bufferItems(name)
    let feed = this.#feeds.get(key)
    if (!feed) {
      feed = new Feed(name, key, newestId)
      this.#feeds.set(key, feed)
      this.#wake(key)
    }
    feed.listeners.add(listener)
    return new FeedMembership(this.#feeds, feed, listener)
  }

  /** Subscribers of `name` in this process. */
  subscribers(name: string): number {
    return this.#feeds.get(keys.bufferItems(name))?.listeners.size ?? 0
  }

  /** Why live delivery is failing right now, or undefined; only while someone is subscribed. */
  health(): string | undefined {
    if (this.#closed || this.#feeds.size === 0) return undefined
    if (!this.#reader.ready) return 'live reader disconnected from Redis'
    const pendingMs = this.#readStartedAt === undefined ? 0 : performance.now() - this.#readStartedAt
    if (pendingMs > BLOCK_MS + STUCK_AFTER_MS) {
      return `live reader stuck: no reply for ${Math.round(pendingMs)} ms`
    }
    return this.#failure
  }

  /** Ends every subscriber's stream cleanly, then drops the reader's connection. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#idle?.()
    const listeners = [...this.#feeds.values()].flatMap((feed) => [...feed.listeners])
    this.#feeds.clear()
    await Promise.allSettled(listeners.map((listener) => listener.end()))
    this.#reader.destroy()
  }

  #wake(key: string): void {
    if (!this.#running) {
      this.#startLoop()
    } else if (this.#idle) {
      this.#idle()
    } else if (this.#readingKeys && !this.#readingKeys.has(key)) {
      // Once per read, however many buffers a stream adds at once: the next read covers them all.
      this.#readingKeys = undefined
      this.#reader.wake()
    }
  }

  async #run(): Promise<void> {
    this.#running = true
    let failures = 0
    while (!this.#closed) {
      if (this.#feeds.size === 0) {
        this.#revocationCursor = undefined
        await new Promise<void>((resolve) => {
          this.#idle = resolve
        })
        this.#idle = undefined
        continue
      }
      const cursors = [...this.#feeds.values()].map(({ key, lastSeen }) => ({ key, id: lastSeen }))
      if (this.#onRevoked) {
        this.#revocationCursor ??= `${Date.now() - REVOCATION_REPLAY_MS}-0`
        cursors.push({ key: keys.revokedSessions(), id: this.#revocationCursor })
      }
      this.#readingKeys = new Set(cursors.map(({ key }) => key))
      this.#readStartedAt = performance.now()
      try {
        // After a failure, a read that answers at once: its success is what clears the failure, which
        // a 2 s block with nothing new would otherwise keep in readiness until it ended.
        const blockMs = failures > 0 ? 0 : BLOCK_MS
        const reply = await this.#reader.read(cursors, { blockMs, count: READ_COUNT })
        if (failures > 0) this.#logger.info('live reader: reading again')
        failures = 0
        this.#failure = undefined
        if (reply) this.#dispatch(reply)
      } catch (error) {
        if (this.#closed) break
        failures++
        this.#failure = `live reader failing: ${error instanceof Error ? error.message : String(error)}`
        if (failures === 1) this.#logger.warn({ err: this.#failure }, 'live reader: read failed; retrying')
        // The connection reconnects on its own backoff: waiting out ours on top would add up to a second
        // to every recovery, so the retry comes as soon as the connection is back, at the latest after ours.
        await this.#reader.reconnected(backoffDelay(failures))
      } finally {
        this.#readingKeys = undefined
        this.#readStartedAt = undefined
      }
    }
    this.#running = false
  }

  #dispatch(reply: StreamReadReply): void {
    for (const [key, entries] of Object.entries(reply)) {
      if (key === keys.revokedSessions()) {
        this.#revoke(entries)
        continue
      }
      const feed = this.#feeds.get(key)
      if (!feed) continue
      for (const entry of entries) {
        const item = toBufferItem(entry)
        // A feed recreated during the read starts later than the read did.
        if (compareItemIds(item.id, feed.lastSeen) <= 0) continue
        feed.lastSeen = item.id
        const live = liveItem(feed.name, item)
        let sent = 0
        for (const listener of feed.listeners) if (listener.offer(live)) sent++
        // Once per item, not per subscriber: the fan-out's last write is when every one of them has it.
        if (sent > 0 && this.#counters) {
          this.#counters.eventsSent += sent
          this.#counters.deliveryLag.observe(lagSeconds(item.id))
        }
      }
    }
  }

  /** Entries of the revocation stream: `s` is the ended session's id. */
  #revoke(entries: RawStreamEntry[]): void {
    for (const [id, fields] of entries) {
      this.#revocationCursor = id
      const sessionId = fields[1]
      if (fields[0] === 's' && sessionId !== undefined) this.#onRevoked?.(sessionId)
    }
  }
}
