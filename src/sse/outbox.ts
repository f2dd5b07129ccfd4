import type { Writable } from 'node:stream'
import { Deadline } from '../lib/deadline.js'
import { HEARTBEAT_FRAME } from './frames.js'
import { type Heartbeats, type HeartbeatTarget, TICKS_PER_PERIOD } from './heartbeats.js'

export interface OutboxOptions {
  /**
   * Where frames go: on @hono/node-server the response's socket itself (see `openEventStream`), so a
   * frame costs one `write()` and the socket's own back-pressure (`write()` returning false, then
   * 'drain') drives the queue below.
   */
  sink: Writable
  /** Ends the response cleanly after what was written (the response's `end()`, not the socket's). */
  end: () => void
  /** Disconnect once more than this many frames wait (SSE_QUEUE_MAX_EVENTS). */
  maxEvents: number
  /** ... or more than this many bytes (SSE_QUEUE_MAX_BYTES). */
  maxBytes: number
  /** The app's shared heartbeat ticker (SSE_HEARTBEAT_MS). */
  heartbeats: Heartbeats
}

export type OutboxEnd = 'ended' | 'aborted' | 'overflow'

/**
 * One SSE response's outbound queue. A frame is written to the sink at once while the sink takes
 * writes; once `write()` says the client is behind (the socket's buffers are full), frames wait here
 * until 'drain', and then go out coalesced into one write. The wait is bounded in frames and bytes: a
 * client that lets it overflow is disconnected (it can resume with its Last-Event-ID), so one slow
 * client never stalls the others or grows memory without limit.
 */
export class Outbox implements HeartbeatTarget {
  /** Settles once, when the response is over, with how it ended. */
  readonly ended: Promise<OutboxEnd>
  readonly #options: OutboxOptions
  #settleEnded!: (outcome: OutboxEnd) => void
  // Frames waiting for 'drain', and their count and size.
  #queue: Uint8Array[] = []
  #events = 0
  #bytes = 0
  // The sink asked us to wait for 'drain'.
  #blocked = false
  #writes = 0
  #silentTicks = 0
  #ending = false
  #outcome: OutboxEnd | undefined
  #drainWaiters: { empty: boolean; resolve: () => void }[] = []

  constructor(options: OutboxOptions) {
    this.#options = options
    this.ended = new Promise((resolve) => {
      this.#settleEnded = resolve
    })
    const { sink, heartbeats } = options
    sink.on('drain', () => this.#flush())
    // The client went away (or the sink was destroyed): nothing more can be sent.
    sink.on('close', () => this.#finish('aborted'))
    // Errors surface as 'close'; without a listener an EPIPE would be an uncaught exception.
    sink.on('error', () => {})
    heartbeats.add(this)
    if (sink.destroyed) this.#finish('aborted')
  }

  /** Writes the client has taken so far: progress, for telling a slow client from a stalled one. */
  get writes(): number {
    return this.#writes
  }

  get open(): boolean {
    return this.#outcome === undefined && !this.#ending
  }

  /**
   * Sends a frame; false when the outbox is closed or the frame overflowed it (then it disconnects).
   * `paced` frames (catch-up, which waits for {@link drained} between pages) are not held to the bounds.
   */
  push(frame: Uint8Array, { paced = false }: { paced?: boolean } = {}): boolean {
    if (!this.open) return false
    if (!this.#blocked) {
      this.#write(frame)
      return true
    }
    this.#queue.push(frame)
    this.#events++
    this.#bytes += frame.byteLength
    if (!paced && (this.#events > this.#options.maxEvents || this.#bytes > this.#options.maxBytes)) {
      this.#abort('overflow')
      return false
    }
    return true
  }

  /**
   * Resolves once the sink takes writes again, or the outbox closed: back-pressure for catch-up, so a
   * client with a long backlog is paced, not disconnected. With `empty`, once nothing waits here
   * (everything was handed to the sink), which is all a clean end needs.
   */
  drained({ empty = false }: { empty?: boolean } = {}): Promise<void> {
    if (this.#isDrained(empty) || this.#outcome) return Promise.resolve()
    return new Promise((resolve) => this.#drainWaiters.push({ empty, resolve }))
  }

  // `empty` also waits for the sink to take what it was already given: ending a response whose bytes
  // still sit in a blocked socket would report a flush that has not happened.
  #isDrained(empty: boolean): boolean {
    return empty ? this.#queue.length === 0 && !this.#blocked : !this.#blocked
  }

  /** Disconnects the client as too slow, as an overflowing push does. */
  overflow(): void {
    this.#abort('overflow')
  }

  tick(): boolean {
    return ++this.#silentTicks > TICKS_PER_PERIOD && this.push(HEARTBEAT_FRAME)
  }

  /** Ends the response cleanly after what is queued, or cuts it if the client does not read within `graceMs`. */
  async end(graceMs: number): Promise<void> {
    if (!this.open) return
    this.#ending = true
    const flushed = await new Deadline(graceMs)
      .within(() => this.drained({ empty: true }))
      .then(
        () => true,
        () => false,
      )
    if (this.#outcome) return
    if (flushed) {
      this.#finish('ended')
      this.#options.end()
    } else {
      this.#abort('aborted')
    }
  }

  #write(chunk: Uint8Array): void {
    this.#writes++
    this.#silentTicks = 0
    if (!this.#options.sink.write(chunk)) this.#blocked = true
  }

  #flush(): void {
    this.#blocked = false
    if (this.#outcome) return
    if (this.#queue.length > 0) {
      const batch = this.#queue
      this.#queue = []
      this.#events = 0
      this.#bytes = 0
      this.#write(batch.length === 1 ? (batch[0] as Uint8Array) : Buffer.concat(batch))
    }
    this.#wakeDrainWaiters()
  }

  #wakeDrainWaiters(): void {
    if (this.#drainWaiters.length === 0) return
    const waiters = this.#drainWaiters
    this.#drainWaiters = []
    for (const waiter of waiters) {
      if (this.#outcome || this.#isDrained(waiter.empty)) waiter.resolve()
      else this.#drainWaiters.push(waiter)
    }
  }

  /** Cuts the connection: a client that stopped reading cannot be sent the end of a response. */
  #abort(outcome: OutboxEnd): void {
    if (this.#outcome) return
    this.#finish(outcome)
    this.#options.sink.destroy()
  }

  #finish(outcome: OutboxEnd): void {
    if (this.#outcome) return
    this.#outcome = outcome
    this.#options.heartbeats.delete(this)
    this.#queue = []
    this.#wakeDrainWaiters()
    this.#settleEnded(outcome)
  }
}
