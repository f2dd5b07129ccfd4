import type { SSEStreamingApi } from 'hono/streaming'
import { HEARTBEAT_FRAME } from './frames.js'

export interface OutboxOptions {
  stream: SSEStreamingApi
  /** Disconnect once more than this many frames wait (SSE_QUEUE_MAX_EVENTS). */
  maxEvents: number
  /** ... or more than this many bytes (SSE_QUEUE_MAX_BYTES). */
  maxBytes: number
  /** A comment goes out after this long without a write (SSE_HEARTBEAT_MS). */
  heartbeatMs: number
  /**
   * Cuts the client's connection. A client that stopped reading cannot be sent the end of a response,
   * so on @hono/node-server this destroys the socket; without it, only the response stream is aborted.
   */
  disconnect?: () => void
}

export type OutboxEnd = 'ended' | 'aborted' | 'overflow'

/**
 * One SSE response's outbound queue: frames are written in order, as fast as the client reads, with
 * everything that piled up meanwhile coalesced into one write. The queue is bounded in frames and
 * bytes; a client that lets it overflow is disconnected (it can resume with its Last-Event-ID), so
 * one slow client never stalls the others or grows memory without limit.
 */
export class Outbox {
  readonly #options: OutboxOptions
  #queue: Uint8Array[] = []
  // Frames and bytes not yet handed to the client, including the write in flight.
  #events = 0
  #bytes = 0
  #pumping = false
  #writes = 0
  #ending = false
  #outcome: OutboxEnd | undefined
  readonly #heartbeat: NodeJS.Timeout
  readonly #drainWaiters = new Set<{ empty: boolean; resolve: () => void }>()
  readonly #settled: Promise<OutboxEnd>
  #settle!: (outcome: OutboxEnd) => void

  constructor(options: OutboxOptions) {
    this.#options = options
    this.#settled = new Promise((resolve) => {
      this.#settle = resolve
    })
    // Every completed write restarts the interval, so it fires only after heartbeatMs of silence.
    this.#heartbeat = setInterval(() => this.push(HEARTBEAT_FRAME), options.heartbeatMs).unref()
    options.stream.onAbort(() => this.#finish('aborted'))
  }

  /** Resolves once the response is over, saying how it ended. */
  get done(): Promise<OutboxEnd> {
    return this.#settled
  }

  /** Writes the client has taken so far: progress, for telling a slow client from a stalled one. */
  get writes(): number {
    return this.#writes
  }

  get open(): boolean {
    return this.#outcome === undefined && !this.#ending
  }

  /**
   * Queues a frame; false when the outbox is closed or the frame overflowed it (then it disconnects).
   * `paced` frames (catch-up, which waits for {@link drained} between pages) are not held to the bounds.
   */
  push(frame: Uint8Array, { paced = false }: { paced?: boolean } = {}): boolean {
    if (!this.open) return false
    this.#queue.push(frame)
    this.#events++
    this.#bytes += frame.byteLength
    if (!paced && (this.#events > this.#options.maxEvents || this.#bytes > this.#options.maxBytes)) {
      this.#abort('overflow')
      return false
    }
    void this.#pump()
    return true
  }

  /**
   * Resolves once the queue is below half of both bounds (or empty, with `empty`), or the outbox
   * closed: back-pressure for catch-up, so a client with a long backlog is paced, not disconnected.
   */
  drained({ empty = false }: { empty?: boolean } = {}): Promise<void> {
    if (this.#isDrained(empty) || this.#outcome) return Promise.resolve()
    return new Promise((resolve) => this.#drainWaiters.add({ empty, resolve }))
  }

  #isDrained(empty: boolean): boolean {
    if (empty) return this.#events === 0
    return this.#events <= this.#options.maxEvents / 2 && this.#bytes <= this.#options.maxBytes / 2
  }

  /** Disconnects the client as too slow, as an overflowing push does. */
  overflow(): void {
    this.#abort('overflow')
  }

  /** Ends the response cleanly after what is queued, or cuts it if the client does not read within `graceMs`. */
  async end(graceMs: number): Promise<void> {
    if (this.#outcome || this.#ending) return this.#settled.then(() => {})
    this.#ending = true
    let timer: NodeJS.Timeout | undefined
    const flushed = await Promise.race([
      this.drained({ empty: true }).then(() => true),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), graceMs)
      }),
    ])
    clearTimeout(timer)
    if (flushed && !this.#outcome) {
      await this.#options.stream.close()
      this.#finish('ended')
    } else {
      this.#abort('aborted')
    }
  }

  async #pump(): Promise<void> {
    if (this.#pumping) return
    this.#pumping = true
    try {
      while (this.#queue.length > 0 && !this.#outcome) {
        const batch = this.#queue
        this.#queue = []
        const chunk = batch.length === 1 ? (batch[0] as Uint8Array) : Buffer.concat(batch)
        await this.#options.stream.write(chunk)
        this.#heartbeat.refresh()
        this.#writes++
        this.#events -= batch.length
        this.#bytes -= chunk.byteLength
        this.#wakeDrainWaiters()
      }
    } finally {
      this.#pumping = false
    }
  }

  #wakeDrainWaiters(): void {
    for (const waiter of this.#drainWaiters) {
      if (this.#isDrained(waiter.empty) || this.#outcome) {
        this.#drainWaiters.delete(waiter)
        waiter.resolve()
      }
    }
  }

  #abort(outcome: OutboxEnd): void {
    if (this.#outcome) return
    this.#finish(outcome)
    this.#options.stream.abort()
    this.#options.disconnect?.()
  }

  #finish(outcome: OutboxEnd): void {
    if (this.#outcome) return
    this.#outcome = outcome
    clearInterval(this.#heartbeat)
    this.#queue = []
    this.#wakeDrainWaiters()
    this.#settle(outcome)
  }
}
