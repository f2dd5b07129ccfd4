import { AsyncResource } from 'node:async_hooks'
import { randomUUID } from 'node:crypto'
import { ServiceError } from '../lib/errors.js'
import type { RedisCommands, Script } from '../redis/client.js'
import { keys } from '../redis/keys.js'
import { readLuaScript } from '../redis/scripts.js'

export interface StreamSlotsOptions {
  /** The most SSE streams a session may hold open at once, across replicas (SSE_MAX_STREAMS_PER_SESSION). */
  maxPerSession: number
  /** How long a slot lives without renewal, in ms: what a crashed replica's slots outlive it by. */
  leaseMs?: number
  /** How often the app renews every slot it holds, in ms; a third of the lease unless set (tests). */
  renewEveryMs?: number
  /**
   * Told when a renewal or a release fails (Redis trouble), e.g. to log it. Nothing else is needed: the
   * next renewal tries again, and a slot whose release failed is no longer renewed, so it frees itself
   * when its lease runs out.
   */
  onError?: (error: unknown) => void
}

/** One open stream's claim on its session's budget. */
export interface Slot {
  readonly sessionId: string
  /** False once released, or once its lease was found lost. */
  readonly held: boolean
  /**
   * Called once if the lease is found lost at a renewal: it ran out before it was renewed (Redis was
   * unreachable for a whole lease, or the process stalled that long), so another stream may have its
   * slot. The holder decides what to do, e.g. end the stream.
   */
  onLost(listener: () => void): void
  /**
   * Gives the slot back (one ZREM). Idempotent, and never rejects: a release that fails is reported to
   * `onError` and leaves the slot to its lease.
   */
  release(): Promise<void>
}

const DEFAULT_LEASE_MS = 60_000

/**
 * At most `maxPerSession` concurrent SSE streams per session, counted across replicas in Redis: one
 * sorted set per session (`keys.streamSlots`) of slot ids scored with their lease expiry.
 *
 * - `acquire` is one script (`stream-slot-acquire.lua`): drop expired leases, count, add, atomically.
 * - The app renews every slot it holds on one timer, every `renewEveryMs` (lease / 3: two renewals may
 *   fail before a lease runs out): one script call per session, all sent in the same tick, which
 *   node-redis writes as one pipeline (and which a cluster routes by each session's hash tag).
 * - `release` removes the slot. A replica that crashes releases nothing, and renews nothing: its slots
 *   are free again within one lease.
 *
 * Built once per app; it loads its own scripts. {@link close} stops the timer (on shutdown, after the
 * streams have released their slots).
 *
 * @example
 * ```ts
 * const slot = await slots.acquire(sessionId) // throws ServiceError('rate_limited', 'too_many_streams')
 * try { ... stream ... } finally { await slot.release() }
 * ```
 */
export class StreamSlots {
  readonly #acquire: Script<0 | 1>
  readonly #renew: Script<string[]>
  readonly #release: Script<number>
  readonly #max: number
  readonly #leaseMs: number
  readonly #renewEveryMs: number
  readonly #onError: (error: unknown) => void
  /** The slots this app holds, by session, then by slot id. */
  readonly #held = new Map<string, Map<string, HeldSlot>>()
  #timer: NodeJS.Timeout | undefined
  #renewing = false
  // Renewals serve every session's slots, not the request whose slot started the timer: the timer runs
  // in the async context the slots were built in (no request's tracing span).
  readonly #startTimer = AsyncResource.bind(() =>
    setInterval(() => void this.renew(), this.#renewEveryMs).unref(),
  )

  constructor(redis: RedisCommands, options: StreamSlotsOptions) {
    this.#acquire = redis.createScript(readLuaScript('stream-slot-acquire'))
    this.#renew = redis.createScript(readLuaScript('stream-slot-renew'))
    this.#release = redis.createScript(readLuaScript('stream-slot-release'))
    this.#max = options.maxPerSession
    this.#leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS
    this.#renewEveryMs = options.renewEveryMs ?? Math.floor(this.#leaseMs / 3)
    this.#onError = options.onError ?? (() => {})
  }

  /**
   * Takes a slot of `sessionId`'s budget; rejects with a `rate_limited` ServiceError (code
   * `too_many_streams`, a 429) when the session already holds the most, and as any Redis call does on
   * Redis trouble.
   */
  async acquire(sessionId: string): Promise<Slot> {
    const id = randomUUID()
    const taken = await this.#acquire.exec(
      [keys.streamSlots(sessionId)],
      [id, String(this.#max), String(this.#leaseMs)],
    )
    if (taken !== 1) {
      throw new ServiceError(
        'rate_limited',
        'too_many_streams',
        `At most ${this.#max} streams may be open per session; close one first`,
      )
    }
    const slot = new HeldSlot(
      sessionId,
      id,
      (s) => this.#forget(s),
      (s) => this.#giveBack(s),
    )
    let ofSession = this.#held.get(sessionId)
    if (!ofSession) {
      ofSession = new Map()
      this.#held.set(sessionId, ofSession)
    }
    ofSession.set(id, slot)
    this.#timer ??= this.#startTimer()
    return slot
  }

  /** How many slots this app holds (all sessions). */
  get size(): number {
    let size = 0
    for (const ofSession of this.#held.values()) size += ofSession.size
    return size
  }

  /**
   * Renews every slot this app holds: one script call per session, sent together. The timer calls it;
   * it is public for tests. Slots found lost are dropped and told. Overlapping calls are skipped.
   */
  async renew(): Promise<void> {
    if (this.#renewing) return
    this.#renewing = true
    try {
      const lease = String(this.#leaseMs)
      await Promise.all(
        [...this.#held].map(async ([sessionId, ofSession]) => {
          try {
            const lost = await this.#renew.exec([keys.streamSlots(sessionId)], [lease, ...ofSession.keys()])
            for (const id of lost) ofSession.get(id)?.lose()
          } catch (error) {
            this.#onError(error)
          }
        }),
      )
    } finally {
      this.#renewing = false
    }
  }

  /** Stops renewing. Slots still held are left to their leases. */
  close(): void {
    clearInterval(this.#timer)
    this.#timer = undefined
  }

  async #giveBack(slot: HeldSlot): Promise<void> {
    try {
      await this.#release.exec([keys.streamSlots(slot.sessionId)], [slot.id])
    } catch (error) {
      this.#onError(error)
    }
  }

  #forget(slot: HeldSlot): void {
    const ofSession = this.#held.get(slot.sessionId)
    ofSession?.delete(slot.id)
    if (ofSession?.size === 0) this.#held.delete(slot.sessionId)
    if (this.#held.size === 0) this.close()
  }
}

class HeldSlot implements Slot {
  #held = true
  #lostListeners: (() => void)[] = []

  constructor(
    readonly sessionId: string,
    readonly id: string,
    private readonly forget: (slot: HeldSlot) => void,
    private readonly giveBack: (slot: HeldSlot) => Promise<void>,
  ) {}

  get held(): boolean {
    return this.#held
  }

  onLost(listener: () => void): void {
    this.#lostListeners.push(listener)
  }

  async release(): Promise<void> {
    if (!this.#held) return
    this.#held = false
    this.forget(this)
    await this.giveBack(this)
  }

  lose(): void {
    if (!this.#held) return
    this.#held = false
    this.forget(this)
    const listeners = this.#lostListeners
    this.#lostListeners = []
    for (const listener of listeners) listener()
  }
}
