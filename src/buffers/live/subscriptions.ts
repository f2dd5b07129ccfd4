import type { Context } from 'hono'
import type { Logger } from '../../process/logger.js'
import type { Redis } from '../../redis/client.js'
import { RedisUnavailableError } from '../../redis/failures.js'
import { EVENT_STREAM_HEADERS, openEventStream, retryLater } from '../../sse/event-stream.js'
import { Heartbeats } from '../../sse/heartbeats.js'
import { Outbox } from '../../sse/outbox.js'
import { BEFORE_ALL } from '../ids.js'
import type { BufferStore, Page, ReadFrom } from '../store.js'
import { CATCH_UP_PAGE, Follower } from './follower.js'
import { openingFrame } from './frames.js'
import { LiveHub } from './hub.js'

export interface SubscriptionsOptions {
  redis: Redis
  store: BufferStore
  logger: Logger
  /** SSE_RETRY_MS: the reconnect delay every stream announces. */
  retryMs: number
  /** SSE_HEARTBEAT_MS. */
  heartbeatMs: number
  /** SSE_QUEUE_MAX_EVENTS and SSE_QUEUE_MAX_BYTES: a client further behind is disconnected. */
  queueMaxEvents: number
  queueMaxBytes: number
}

/** On shutdown, how long a stream may take to flush what is queued before it is cut. */
const END_GRACE_MS = 2000

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
  readonly #hub: LiveHub
  readonly #heartbeats: Heartbeats

  constructor(options: SubscriptionsOptions) {
    this.#options = options
    this.#hub = new LiveHub({ reader: options.redis.createStreamReader(), logger: options.logger })
    this.#heartbeats = new Heartbeats(options.heartbeatMs)
  }

  /** Subscribers of buffer `name` in this process. */
  subscribers(name: string): number {
    return this.#hub.subscribers(name)
  }

  /** Why live delivery is failing right now, or undefined (a readiness check). */
  health(): string | undefined {
    return this.#hub.health()
  }

  /** Ends every stream cleanly (each within its grace) and drops the live reader's connection. */
  close(): Promise<void> {
    return this.#hub.close()
  }

  /**
   * Answers an event-stream request for buffer `name` from `start`: the first page is read before the
   * stream opens, so Redis trouble is a 503 a client can see rather than a broken stream. An EventSource
   * (`Accept: text/event-stream`) gives up for good on anything but 200, so it is told to come back
   * instead, as is every client of a closing app.
   */
  async subscribe(c: Context, name: string, start: ReadFrom): Promise<Response> {
    // Hono runs GET handlers for HEAD: answer with the stream's head alone, never open one.
    if (c.req.method === 'HEAD') return c.body(null, 200, EVENT_STREAM_HEADERS)
    const { store, logger, retryMs, queueMaxEvents, queueMaxBytes } = this.#options
    if (this.#hub.closed) return retryLater(c, retryMs)
    const first = await store.read(name, start, CATCH_UP_PAGE).catch((error: unknown) => {
      if (error instanceof RedisUnavailableError && c.req.header('Accept')?.includes('text/event-stream'))
        return null
      throw error
    })
    if (!first) return retryLater(c, retryMs)

    const { sink, end, response } = openEventStream(c)
    const outbox = new Outbox({
      sink,
      end,
      heartbeats: this.#heartbeats,
      maxEvents: queueMaxEvents,
      maxBytes: queueMaxBytes,
    })
    const cursor = startCursor(start, first)
    outbox.push(openingFrame(retryMs, cursor))
    const follower = new Follower(
      { name, store, outbox, logger, endGraceMs: END_GRACE_MS, maxBehind: queueMaxEvents },
      cursor,
    )
    follower.sendPage(first)
    const membership = this.#hub.join(name, first.newestId ?? BEFORE_ALL, follower)
    if (!membership) {
      void follower.end()
      return response
    }
    void outbox.ended.then((outcome) => {
      membership.leave()
      if (outcome === 'overflow') logger.info({ buffer: name }, 'sse: slow client disconnected')
    })
    follower.follow(membership, first.items.length === CATCH_UP_PAGE)
    return response
  }
}

/** The cursor before the first page: the resume id, or the newest id for live only. */
function startCursor(start: ReadFrom, first: Page): string {
  if (start === 'newest') return first.newestId ?? BEFORE_ALL
  if (start === 'oldest') return BEFORE_ALL
  return start.after
}
