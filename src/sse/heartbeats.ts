/** A stream the ticker keeps alive. */
export interface HeartbeatTarget {
  /**
   * Called on every tick; sends a heartbeat once more than {@link TICKS_PER_PERIOD} passed without a
   * write, and says whether it did.
   */
  tick(): boolean
}

/** Where the ticker counts the heartbeats its streams sent (the app's metrics). */
export interface HeartbeatCounts {
  heartbeats: number
}

/** Ticks per heartbeat period: a heartbeat follows between 1 and 1.25 periods of silence. */
export const TICKS_PER_PERIOD = 4

/**
 * One timer for every SSE stream of an app, instead of one interval per stream that every write would
 * have to restart. It ticks every quarter of SSE_HEARTBEAT_MS; a stream counts the ticks since its
 * last write (a counter reset on write costs nothing on the hot path) and sends a comment once more
 * than {@link TICKS_PER_PERIOD} ticks have passed: never before SSE_HEARTBEAT_MS of silence, and at
 * most a quarter period after it. The timer runs only while there are streams, and never keeps the
 * process alive.
 *
 * @example
 * ```ts
 * const heartbeats = new Heartbeats(15_000)
 * heartbeats.add(outbox) // outbox.tick() is called every 3.75 s
 * heartbeats.delete(outbox)
 * ```
 */
export class Heartbeats {
  readonly #targets = new Set<HeartbeatTarget>()
  readonly #tickMs: number
  readonly #counts: HeartbeatCounts
  #timer: NodeJS.Timeout | undefined

  /** `periodMs`: SSE_HEARTBEAT_MS. */
  constructor(periodMs: number, counts: HeartbeatCounts = { heartbeats: 0 }) {
    this.#tickMs = Math.max(1, Math.floor(periodMs / TICKS_PER_PERIOD))
    this.#counts = counts
  }

  /** Streams registered: every open stream of the app. */
  get size(): number {
    return this.#targets.size
  }

  add(target: HeartbeatTarget): void {
    this.#targets.add(target)
    this.#timer ??= setInterval(() => this.#tick(), this.#tickMs).unref()
  }

  delete(target: HeartbeatTarget): void {
    this.#targets.delete(target)
    if (this.#targets.size === 0 && this.#timer) {
      clearInterval(this.#timer)
      this.#timer = undefined
    }
  }

  #tick(): void {
    let sent = 0
    for (const target of this.#targets) if (target.tick()) sent++
    this.#counts.heartbeats += sent
  }
}
