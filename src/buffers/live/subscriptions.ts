import type { Context } from 'hono'
import { ServiceError } from '../../lib/errors.js'
import type { Slot, StreamSlots } from '../../limits/stream-slots.js'
import type { Logger } from '../../process/logger.js'
import { SseCounters } from '../../process/metrics.js'
import type { Redis } from '../../redis/client.js'
import { RedisUnavailableError } from '../../redis/failures.js'
import type { StreamReader } from '../../redis/stream-reader.js'
import { EVENT_STREAM_HEADERS, openEventStream, retryLater } from '../../sse/event-stream.js'
import { encodeFrame } from '../../sse/frames.js'
import { Heartbeats } from '../../sse/heartbeats.js'
import { Outbox } from '../../sse/outbox.js'
import { BEFORE_ALL } from '../ids.js'
import type { BufferStore, Page, ReadFrom } from '../store.js'
import type { BufferSet } from './buffer-set.js'
import { CATCH_UP_PAGE, Follower, PageTurns } from './follower.js'
import { oneBufferFrames, openingFrame, SetFrames, type StreamFrames } from './frames.js'
import { LiveHub, type Membership } from './hub.js'

export interface SubscriptionsOptions {
  redis: Redis
  /** SSE_MAX_STREAMS_PER_SESSION, across replicas: each session stream holds a slot while it is open. */
  slots: StreamSlots
  store: BufferStore
  logger: Logger
  /** SSE_RETRY_MS: the reconnect delay every stream announces. */
  retryMs: number
  /** SSE_HEARTBEAT_MS. */
  heartbeatMs: number
  /** SSE_QUEUE_MAX_EVENTS and SSE_QUEUE_MAX_BYTES: a client further behind is disconnected. */
  queueMaxEvents: number
  queueMaxBytes: number
  /** Where streams, events, resets, heartbeats, cut-offs and lag are counted (the app's metrics). */
  counters?: SseCounters
}

/** On shutdown, how long a stream may take to flush what is queued before it is cut. */
const END_GRACE_MS = 2000

/**
 * What a stream's authority rests on: the stream ends, with a final `event: revoked`, when that
 * authority does. An admin token's streams have none of these and end only with the client or the app.
 */
export interface StreamOwner {
  /** The session that opened the stream: it ends when the session is ended anywhere. */
  sessionId?: string
  /** When the grant that allowed the stream ends, ms since the epoch. */
  endsAt?: number
  /**
   * For a session that can expire without notice: asked `afterMs` after the stream opens, and then as
   * often as it says, how long the owner has left (null when it is gone).
   */
  expiry?: { afterMs: number; remainingMs: () => Promise<number | null> }
}

export type RevokedReason = 'session_ended' | 'session_expired' | 'grant_expired'

/** No `id:`, so a client's last event id stays its last item. */
const revokedFrame = (reason: RevokedReason) =>
  encodeFrame({ event: 'revoked', data: JSON.stringify({ reason }) })

/** The longest a timer may wait (setTimeout's limit is 2^31-1 ms); longer waits are taken in steps. */
const MAX_TIMER_MS = 2 ** 31 - 1

/**
 * The SSE subscriptions of one app: its live hub (one blocking Redis reader for all of them), its
 * heartbeat ticker, and the wiring of each subscriber's stream. See doc/architecture.md, "Streams".
 *
 * @example
 * ```ts
 * const subscriptions = new Subscriptions({ redis, store, logger, ...sseSettings })
 * app.get('/buffers/:name/events', (c) => subscriptions.subscribe(c, c.req.param('name'), 'newest'))
 * ```
 */
export class Subscriptions {
  readonly #options: SubscriptionsOptions
  readonly #reader: StreamReader
  readonly #hub: LiveHub
  readonly #heartbeats: Heartbeats
  readonly #counters: SseCounters
  // A stream has joined the hub once: from then on the live reader has a connection to report on.
  #readerStarted = false
  /** How to end each open stream, by the session that opened it. */
  readonly #bySession = new Map<string, Set<(reason: RevokedReason) => void>>()

  constructor(options: SubscriptionsOptions) {
    this.#options = options
    this.#counters = options.counters ?? new SseCounters()
    this.#reader = options.redis.createStreamReader()
    this.#hub = new LiveHub({
      reader: this.#reader,
      logger: options.logger,
      onRevoked: (sessionId) => {
        for (const end of this.#bySession.get(sessionId) ?? []) end('session_ended')
      },
      counters: this.#counters,
    })
    this.#heartbeats = new Heartbeats(options.heartbeatMs, this.#counters)
  }

  /** SSE streams open right now (each is registered with the heartbeat ticker while it is). */
  get openStreams(): number {
    return this.#heartbeats.size
  }

  /** Whether the live reader's connection is up; undefined before the first stream and once closed. */
  liveReaderUp(): boolean | undefined {
    if (!this.#readerStarted || this.#hub.closed) return undefined
    return this.#reader.ready
  }

  /** Subscribers of buffer `name` in this process. */
  subscribers(name: string): number {
    return this.#hub.subscribers(name)
  }

  /** Why live delivery is failing right now, or undefined (a readiness check). */
  health(): string | undefined {
    return this.#hub.health()
  }

  /** Ends every stream cleanly (each within its grace), then drops the live reader's connection. */
  async close(): Promise<void> {
    await this.#hub.close()
    this.#options.slots.close()
  }

  /**
   * Answers an event-stream request for buffer `name` from `start`: the first page is read before the
   * stream opens, so Redis trouble is a 503 a client can see rather than a broken stream. An EventSource
   * (`Accept: text/event-stream`) gives up for good on anything but 200, so it is told to come back
   * instead, as is every client of a closing app.
   */
  subscribe(c: Context, name: string, start: ReadFrom, owner: StreamOwner = {}): Promise<Response> {
    return this.#open(c, [name], [start], ([cursor]) => oneBufferFrames(cursor as string), owner)
  }

  /**
   * The same for every buffer of `set` over one stream, each from its start (in the set's order): each
   * event's `id:` is the set's cursor, and its data names its buffer (see {@link SetFrames}).
   */
  subscribeToSet(
    c: Context,
    set: BufferSet,
    starts: readonly ReadFrom[],
    owner: StreamOwner = {},
  ): Promise<Response> {
    return this.#open(c, set.names, starts, (cursors) => new SetFrames(set, cursors), owner)
  }

  /**
   * One stream of `names[i]` from `starts[i]`: a follower per buffer, one outbox, one stream slot. The
   * first pages share one page's worth of items between them (see {@link firstPageLimit}).
   */
  async #open(
    c: Context,
    names: readonly string[],
    starts: readonly ReadFrom[],
    framesFrom: (cursors: readonly string[]) => StreamFrames,
    owner: StreamOwner,
  ): Promise<Response> {
    // Hono runs GET handlers for HEAD: answer with the stream's head alone, never open one.
    if (c.req.method === 'HEAD') return c.body(null, 200, EVENT_STREAM_HEADERS)
    const { store, logger, retryMs, queueMaxEvents, queueMaxBytes } = this.#options
    const counters = this.#counters
    if (this.#hub.closed) {
      counters.opened.retry_later++
      return retryLater(c, retryMs)
    }
    // Watched from before the first await: a revocation read by the hub while the stream is still
    // opening is not missed, it ends the stream as soon as there is one.
    let endStream: ((reason: RevokedReason) => void) | undefined
    let endedEarly: RevokedReason | undefined
    const stopWatching = this.#watchOwner(owner, (reason) => {
      if (endStream) endStream(reason)
      else endedEarly = reason
    })
    const limit = firstPageLimit(names.length)
    let slot: Slot | undefined
    let firsts: Page[]
    try {
      slot = owner.sessionId === undefined ? undefined : await this.#options.slots.acquire(owner.sessionId)
      // Sent in one tick: node-redis pipelines them into one round trip.
      firsts = await Promise.all(names.map((name, i) => store.read(name, starts[i] as ReadFrom, limit)))
    } catch (error) {
      // Redis trouble becomes a 503, or for an EventSource a `retry:` (see the error handler).
      stopWatching()
      void slot?.release()
      counters.opened[refusal(error)]++
      throw error
    }

    const { sink, end, response } = openEventStream(c)
    const outbox = new Outbox({
      sink,
      end,
      heartbeats: this.#heartbeats,
      maxEvents: queueMaxEvents,
      maxBytes: queueMaxBytes,
    })
    const cursors = firsts.map((first, i) => startCursor(starts[i] as ReadFrom, first))
    const frames = framesFrom(cursors)
    outbox.push(openingFrame(retryMs, frames.openingId))
    const turns = new PageTurns()
    const followers: Follower[] = []
    const memberships: Membership[] = []
    for (const [i, name] of names.entries()) {
      const first = firsts[i] as Page
      const follower = new Follower(
        {
          name,
          store,
          outbox,
          logger,
          endGraceMs: END_GRACE_MS,
          maxBehind: queueMaxEvents,
          counters,
          frames: frames.follower(i),
          turns,
        },
        cursors[i] as string,
      )
      follower.sendPage(first)
      const membership = this.#hub.join(name, first.newestId ?? BEFORE_ALL, follower)
      if (!membership) {
        // The app closed while the first pages were read (between two turns of the event loop, so
        // before the first join): the stream ends at once, as retryLater's does.
        stopWatching()
        void slot?.release()
        void outbox.end(END_GRACE_MS)
        counters.opened.retry_later++
        return response
      }
      followers.push(follower)
      memberships.push(membership)
    }
    counters.opened.opened++
    this.#readerStarted = true
    // A slot lost to an expired lease may be another stream's now: this one makes way.
    slot?.onLost(() => void outbox.end(END_GRACE_MS))
    endStream = (reason) => {
      outbox.push(revokedFrame(reason))
      void outbox.end(END_GRACE_MS)
    }
    void outbox.ended.then((outcome) => {
      for (const membership of memberships) membership.leave()
      stopWatching()
      void slot?.release()
      if (outcome === 'overflow') {
        counters.slowClientDisconnects++
        logger.info(
          names.length === 1 ? { buffer: names[0] } : { buffers: names },
          'sse: slow client disconnected',
        )
      }
    })
    if (endedEarly) endStream(endedEarly)
    for (const [i, follower] of followers.entries()) {
      follower.follow(memberships[i] as Membership, (firsts[i] as Page).items.length === limit)
    }
    return response
  }

  /** Calls `end` once the stream's owner is gone; returns what stops watching. */
  #watchOwner({ sessionId, endsAt, expiry }: StreamOwner, end: (reason: RevokedReason) => void): () => void {
    let ended = false
    const endOnce = (reason: RevokedReason) => {
      if (ended) return
      ended = true
      end(reason)
    }
    const timers: { grant?: NodeJS.Timeout; expiry?: NodeJS.Timeout } = {}
    const after = (which: keyof typeof timers, ms: number, then: () => void) => {
      timers[which] = setTimeout(then, Math.min(Math.max(0, ms), MAX_TIMER_MS)).unref()
    }
    if (endsAt !== undefined) {
      const checkGrant = () =>
        Date.now() >= endsAt ? endOnce('grant_expired') : after('grant', endsAt - Date.now(), checkGrant)
      checkGrant()
    }
    if (expiry) {
      // A failed look (Redis trouble) is no proof of expiry: look again a second later.
      const checkExpiry = async () => {
        const remaining = await expiry.remainingMs().catch(() => 1000)
        if (remaining === null) endOnce('session_expired')
        else if (!ended) after('expiry', Math.max(remaining, 100), checkExpiry)
      }
      after('expiry', expiry.afterMs, checkExpiry)
    }
    let ends: Set<(reason: RevokedReason) => void> | undefined
    if (sessionId !== undefined) {
      ends = this.#bySession.get(sessionId) ?? new Set()
      ends.add(endOnce)
      this.#bySession.set(sessionId, ends)
    }
    return () => {
      ended = true
      clearTimeout(timers.grant)
      clearTimeout(timers.expiry)
      if (sessionId === undefined || !ends) return
      ends.delete(endOnce)
      if (ends.size === 0) this.#bySession.delete(sessionId)
    }
  }
}

/** How a stream request that failed before its stream opened counts (`hrs_sse_streams_opened_total`). */
function refusal(error: unknown): 'limited' | 'unavailable' | 'failed' {
  if (error instanceof RedisUnavailableError) return 'unavailable'
  if (error instanceof ServiceError && error.kind === 'rate_limited') return 'limited'
  return 'failed'
}

/**
 * Items in each buffer's first page: a stream's first pages hold one catch-up page's worth between them
 * (at least one item each), read before the stream opens and sent before any catch-up waits its turn.
 */
export const firstPageLimit = (buffers: number): number => Math.max(1, Math.floor(CATCH_UP_PAGE / buffers))

/** The cursor before the first page: the resume id, or the newest id for live only. */
function startCursor(start: ReadFrom, first: Page): string {
  if (start === 'newest') return first.newestId ?? BEFORE_ALL
  if (start === 'oldest') return BEFORE_ALL
  return start.after
}
