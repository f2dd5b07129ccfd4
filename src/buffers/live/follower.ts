import { setTimeout as sleep } from 'node:timers/promises'
import { backoffDelay } from '../../lib/backoff.js'
import type { Logger } from '../../process/logger.js'
import { SseCounters } from '../../process/metrics.js'
import { RedisUnavailableError } from '../../redis/failures.js'
import type { Outbox } from '../../sse/outbox.js'
import { BEFORE_ALL, compareItemIds } from '../ids.js'
import type { BufferStore, Page } from '../store.js'
import { type FollowerFrames, ONE_BUFFER_FRAMES } from './frames.js'
import type { FeedListener, LiveItem, Membership } from './hub.js'

/** Items per catch-up read, and in the page read before a stream opens. */
export const CATCH_UP_PAGE = 100

/** What a follower uses of a subscriber's outbox. */
export type FollowerOutbox = Pick<Outbox, 'open' | 'writes' | 'push' | 'drained' | 'overflow' | 'end'>

export interface FollowerOptions {
  name: string
  store: Pick<BufferStore, 'read'>
  outbox: FollowerOutbox
  logger: Logger
  /** How long shutdown waits for a client to take what is queued. */
  endGraceMs: number
  /**
   * While catching up, live items are not queued but counted: a client that lets this many go by
   * without taking anything is as slow as one whose queue overflowed, and is disconnected.
   */
  maxBehind: number
  /** Where the follower counts events sent, resets and catch-up pages (the app's metrics). */
  counters?: FollowerCounts
  /** How its items become frames: by default a one-buffer stream's. */
  frames?: FollowerFrames
  /** Shared by the followers of one stream: one catch-up page at a time. By default its own. */
  turns?: PageTurns
}

export type FollowerCounts = Pick<SseCounters, 'eventsSent' | 'resets' | 'catchUpPages'>

/**
 * Catch-up turns among the followers of one stream: one of them at a time reads a page and waits for
 * the client to take it. A stream of several buffers thus holds what a one-buffer stream does, its
 * queue bound plus one catch-up page, however many of its buffers are catching up; they take turns in
 * the order they asked.
 */
export class PageTurns {
  #taken = false
  readonly #waiting: (() => void)[] = []

  /** True when the turn was free and is now the caller's; otherwise resolves once it is. */
  take(): true | Promise<void> {
    if (!this.#taken) {
      this.#taken = true
      return true
    }
    return new Promise((resolve) => this.#waiting.push(resolve))
  }

  /** Hands the turn on to the next in line, or frees it. */
  give(): void {
    const next = this.#waiting.shift()
    if (next) next()
    else this.#taken = false
  }
}

/**
 * One SSE subscriber's position in a buffer, and the rule that makes delivery exact: every item after
 * the cursor goes out exactly once, in order, or a reset says why it cannot.
 *
 * Live items come from the hub. One whose `prev` is at or before the cursor is the next item: it is
 * sent at once. Anything else (a gap after an outage, a start of a stream after a delete, an item the
 * subscriber joined too late to be offered) switches to catch-up: pages read from Redis after the
 * cursor with the same script, and the same reset rule, as a resuming client. Catch-up waits for the
 * client to take each page, and reads again whenever the hub offered something meanwhile, so the hand
 * back to live delivery has neither gaps nor duplicates.
 */
export class Follower implements FeedListener {
  readonly #options: FollowerOptions
  readonly #counters: FollowerCounts
  readonly #frames: FollowerFrames
  readonly #turns: PageTurns
  #cursor: string
  #catchingUp = false
  // A live item was offered since the last catch-up read: that read may have missed it.
  #offeredSinceRead = false
  // Live items offered during catch-up since the client last took a write.
  #behind = 0
  #writesWhenBehind = 0

  constructor(options: FollowerOptions, cursor: string) {
    this.#options = options
    this.#counters = options.counters ?? new SseCounters()
    this.#frames = options.frames ?? ONE_BUFFER_FRAMES
    this.#turns = options.turns ?? new PageTurns()
    this.#cursor = cursor
  }

  /** Sends a page: the one read before joining, or a catch-up page. */
  sendPage(page: Page): void {
    const { outbox } = this.#options
    if (page.reset) {
      if (outbox.push(this.#frames.reset(page.reset), { paced: true })) {
        this.#counters.resets[page.reset.reason]++
      }
      this.#cursor = BEFORE_ALL
    }
    let sent = 0
    for (const item of page.items) {
      if (!outbox.push(this.#frames.item(item), { paced: true })) break
      this.#cursor = item.id
      sent++
    }
    this.#counters.eventsSent += sent
  }

  /**
   * Starts following live, once the first page is taken; reads more first if it was full or the hub
   * has already handed out items newer than the cursor.
   */
  follow(membership: Membership, firstPageFull: boolean): void {
    void this.#catchUp(firstPageFull || compareItemIds(this.#cursor, membership.lastSeen) < 0)
  }

  /** Whether the item went out (written, or queued behind a socket that pushes back): the hub counts these. */
  offer(item: LiveItem): boolean {
    if (this.#catchingUp) {
      this.#offeredSinceRead = true
      this.#countBehind()
      return false
    }
    // The common case first, without parsing ids: the item right after the cursor.
    if (item.prev === this.#cursor) return this.#push(item)
    if (compareItemIds(item.id, this.#cursor) <= 0) return false
    if (item.prev === '') {
      // The first item of a stream that did not exist when it was appended: the next item for a cursor
      // at the start (a buffer followed before its first item), the reset rule's answer for any other.
      if (this.#cursor === BEFORE_ALL) return this.#push(item)
    } else if (compareItemIds(item.prev, this.#cursor) <= 0) return this.#push(item)
    void this.#catchUp(true)
    return false
  }

  #push(item: LiveItem): boolean {
    if (!this.#options.outbox.push(this.#frames.live(item))) return false
    this.#cursor = item.id
    return true
  }

  #countBehind(): void {
    const { outbox, maxBehind } = this.#options
    if (outbox.writes !== this.#writesWhenBehind) {
      this.#writesWhenBehind = outbox.writes
      this.#behind = 0
    }
    if (++this.#behind > maxBehind) outbox.overflow()
  }

  end(): Promise<void> {
    return this.#options.outbox.end(this.#options.endGraceMs)
  }

  /**
   * Reads pages until the cursor is at the end of the buffer, waiting for the client to take each one
   * (in its stream's turn); hands over to live delivery only once the queue is drained and nothing was
   * offered meanwhile.
   */
  async #catchUp(readFirst: boolean): Promise<void> {
    if (this.#catchingUp) return
    this.#catchingUp = true
    const { outbox, logger, name } = this.#options
    const turns = this.#turns
    let myTurn = false
    this.#offeredSinceRead = false
    try {
      let read = readFirst
      while (outbox.open) {
        if (read) {
          // Free at once unless another buffer of the stream is catching up: then after its page.
          const turn = turns.take()
          if (turn !== true) await turn
          myTurn = true
          this.#offeredSinceRead = false
          const page = await this.#read()
          if (!page) return
          this.#counters.catchUpPages++
          this.sendPage(page)
          read = page.items.length === CATCH_UP_PAGE
        }
        await outbox.drained()
        if (myTurn) {
          myTurn = false
          turns.give()
        }
        if (!read && !this.#offeredSinceRead) break
        read = true
      }
    } catch (error) {
      logger.error({ err: error, buffer: name }, 'sse: catch-up failed; ending the stream')
      await outbox.end(0)
    } finally {
      if (myTurn) turns.give()
      this.#catchingUp = false
    }
  }

  /** One page after the cursor, retried while Redis is unavailable (the stream stays open meanwhile). */
  async #read(): Promise<Page | null> {
    const { store, outbox, name } = this.#options
    for (let attempt = 1; outbox.open; attempt++) {
      try {
        return await store.read(name, { after: this.#cursor }, CATCH_UP_PAGE)
      } catch (error) {
        if (!(error instanceof RedisUnavailableError)) throw error
        await sleep(backoffDelay(attempt))
      }
    }
    return null
  }
}
