import { z } from 'zod'
import { type Grant, grantClaim } from '../access/grants.js'
import { ServiceError } from '../lib/errors.js'
import type { RedisCommands, Script } from '../redis/client.js'
import { keys } from '../redis/keys.js'
import { readLuaScript } from '../redis/scripts.js'
import { isV2Id, newSessionId, sessionFingerprint, sessionKey, tagOf, userIndexKey, userTag } from './ids.js'

/** A session's data: a JSON object. Top-level keys are what PATCH merges. */
export type SessionData = Record<string, unknown>

/** What ties a session to a user: set when a grant token was exchanged for it. */
export interface SessionBinding {
  /** The user id (the grant token's `sub`). */
  readonly sub: string
  readonly grant: Grant
  /** When the grant ends (the token's `exp`), ms since the epoch; the session may live on without it. */
  readonly grantExpiresAt: number
  /** When the session was created, ms since the epoch. */
  readonly createdAt: number
}

export interface Session {
  id: string
  data: SessionData
  expiresAt: Date
  /** Null for an anonymous session. */
  binding: SessionBinding | null
}

/** A live session of a user, as the admin API lists it. */
export interface UserSession {
  id: string
  binding: SessionBinding
  expiresAt: Date
}

/**
 * The most sessions one user keeps: a new one past it ends the oldest. It bounds the user's index, and
 * what a revocation must end at once.
 */
const SESSIONS_PER_USER_MAX = 100

/** The largest session data accepted, as UTF-8 bytes of its JSON. */
const SESSION_DATA_MAX_BYTES = 4096

/** The data's JSON text. */
type DataJson = string

/**
 * What a session key holds: the data's JSON text, after a first line with the binding's JSON when the
 * session is bound to a user. JSON.stringify never writes a raw line break, so the first one ends the
 * binding, and an anonymous session is its data's JSON text alone, as it was before bindings existed.
 */
type StoredValue = string

const storedValue = (binding: SessionBinding | null, json: DataJson): StoredValue =>
  binding ? `${JSON.stringify(binding)}\n${json}` : json

/**
 * A session key holds a value this service does not write: a bug, or a hand edit. It is never taken
 * for a session: the request fails (a 500) and the log says which session (by fingerprint) and why.
 */
export class CorruptSessionError extends Error {
  readonly code = 'session_corrupt'

  constructor(id: string, reason: string) {
    super(`Session ${sessionFingerprint(id)} holds a value this service does not write: ${reason}`)
    this.name = 'CorruptSessionError'
  }
}

/** A binding line as SessionStore writes it (extra members are tolerated, missing or mistyped ones not). */
const bindingLine = z.object({
  sub: z.string().min(1),
  grant: grantClaim,
  grantExpiresAt: z.number(),
  createdAt: z.number(),
})

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value)

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

/** How many binding lines a store remembers parsed: a session's line is the same on every read. */
const BINDINGS_REMEMBERED = 10_000

/**
 * Parses stored values, and refuses any that is not what the store writes (CorruptSessionError): the
 * data must be a JSON object, the first line, when there is one, a binding. The binding lines it has
 * seen are parsed once (a bounded map, oldest out).
 */
class StoredValues {
  readonly #bindings = new Map<string, SessionBinding>()

  /** `id`: the session's, for the error. `stored` is whatever Redis holds: it is checked, not trusted. */
  parse(id: string, stored: unknown): { binding: SessionBinding | null; data: SessionData } {
    if (typeof stored !== 'string') throw new CorruptSessionError(id, `a ${typeof stored}, not text`)
    const lineEnd = stored.indexOf('\n')
    const data = parseJson(lineEnd < 0 ? stored : stored.slice(lineEnd + 1))
    if (!isObject(data)) throw new CorruptSessionError(id, 'its data is not a JSON object')
    return { binding: lineEnd < 0 ? null : this.#binding(id, stored.slice(0, lineEnd)), data }
  }

  #binding(id: string, line: string): SessionBinding {
    let binding = this.#bindings.get(line)
    if (!binding) {
      const parsed = bindingLine.safeParse(parseJson(line))
      if (!parsed.success) throw new CorruptSessionError(id, 'its first line is not a user binding')
      binding = Object.freeze(parsed.data)
      if (this.#bindings.size >= BINDINGS_REMEMBERED) {
        const oldest = this.#bindings.keys().next().value
        if (oldest !== undefined) this.#bindings.delete(oldest)
      }
      this.#bindings.set(line, binding)
    }
    return binding
  }
}

const tooLarge = (bytes: number, atLeast = false) =>
  new ServiceError(
    'too_large',
    'session_data_too_large',
    `Session data would be ${atLeast ? 'at least ' : ''}${bytes} bytes of JSON; the limit is ${SESSION_DATA_MAX_BYTES}`,
  )

/** JSON-encoded key, JSON-encoded value pairs, as session-patch.lua compares and splices them. */
function toMembers(entries: [string, unknown][]): string[] {
  return entries.flatMap(([name, value]) => [JSON.stringify(name), JSON.stringify(value)])
}

/** A live session as user-sessions-list.lua answers: its id, stored value and remaining TTL in ms. */
type Listed = [id: string, value: StoredValue, ttlMs: number]

/**
 * Sessions in Redis, one string per session holding a binding line and the data's JSON text. A read is
 * one GETEX (read and slide the expiry), the hot path; every write is one atomic script over keys of one
 * Redis Cluster slot: a session's key and its user's index share the tag its id starts with (see ids.ts).
 * The expiry slides: every successful read or write resets it to the full TTL.
 *
 * Ending a session (logout, rotation, revocation, the oldest past a user's limit) is announced on the
 * revocation stream, which is in a slot of its own, so it is a command of its own: once before the
 * sessions are deleted, so that if the delete fails, streams have ended for a session that lives on
 * (they reconnect), never the reverse; and once after, for a stream that authenticated between the two.
 * See doc/architecture.md, "Sessions".
 *
 * Sessions of the v2 layout (ids without a tag) are read at their v2 keys without sliding, so they are
 * all gone SESSION_TTL_SECONDS after the last build that wrote them stopped; rotating one moves it to a
 * v3 id. Built once per app; it loads its own scripts (src/redis/scripts/session-*.lua, user-sessions-*.lua).
 */
export class SessionStore {
  readonly #scripts: {
    create: Script<0 | 1 | 2>
    patch: Script<[0] | [1, number] | [2, DataJson, string] | [3]>
    rotate: Script<StoredValue | null>
    indexed: Script<string[]>
    list: Script<Listed[]>
    endIndexed: Script<string[]>
    announce: Script<number>
    v2Read: Script<StoredValue | null>
    v2Take: Script<StoredValue | null>
  }

  readonly #stored = new StoredValues()

  constructor(
    private readonly redis: RedisCommands,
    private readonly ttlSeconds: number,
  ) {
    const script = <T>(name: string) => redis.createScript<T>(readLuaScript(name))
    this.#scripts = {
      create: script('session-create'),
      patch: script('session-patch'),
      rotate: script('session-rotate'),
      indexed: script('user-sessions-ids'),
      list: script('user-sessions-list'),
      endIndexed: script('user-sessions-end'),
      announce: script('revocation-announce'),
      v2Read: script('session-v2-read'),
      v2Take: script('session-v2-take'),
    }
  }

  #session(id: string, data: SessionData, binding: SessionBinding | null): Session {
    return { id, data, expiresAt: new Date(Date.now() + this.ttlSeconds * 1000), binding }
  }

  /** How long a user's index lives past its last refresh: longer than any session it lists can. */
  get #indexLifetimeMs(): number {
    return this.ttlSeconds * 2000
  }

  /** A new session holding `data`, bound to a user when `binding` is given (and then indexed). */
  create(data: SessionData, binding: SessionBinding | null = null): Promise<Session> {
    const json = JSON.stringify(data)
    const size = Buffer.byteLength(json)
    if (size > SESSION_DATA_MAX_BYTES) throw tooLarge(size)
    return this.#insert(storedValue(binding, json), data, binding)
  }

  /** Stores `value` under a fresh id: with its user's tag, and in its user's index, when bound. */
  async #insert(value: StoredValue, data: SessionData, binding: SessionBinding | null): Promise<Session> {
    const tag = binding ? userTag(binding.sub) : undefined
    const index = binding ? [userIndexKey(binding.sub)] : []
    // A collision of 192 random bits will not happen; NX only makes the impossible case safe.
    for (;;) {
      const id = newSessionId(tag)
      const created = await this.#scripts.create.exec(
        [sessionKey(id), ...index],
        [
          value,
          String(this.ttlSeconds),
          id,
          String(binding?.createdAt ?? 0),
          String(this.#indexLifetimeMs),
          String(SESSIONS_PER_USER_MAX),
        ],
      )
      if (created === 0) continue
      if (created === 2 && binding) await this.#trimIndex(binding.sub)
      return this.#session(id, data, binding)
    }
  }

  /**
   * GETEX: the session and a fresh TTL in one command; a missing key stays missing. A v2 session is read
   * without sliding its expiry.
   */
  async read(id: string): Promise<Session | null> {
    const value = isV2Id(id)
      ? await this.#scripts.v2Read.exec([keys.v2Session(id)], [])
      : await this.redis.getex(keys.session(tagOf(id), id), { ex: this.ttlSeconds })
    if (value === null) return null
    const { binding, data } = this.#stored.parse(id, value)
    return this.#session(id, data, binding)
  }

  /**
   * Keeps user `sub`'s index alive while their sessions are: reads slide a session's TTL without
   * touching the index, so the index is given a lifetime of two TTLs again now and then (see
   * SessionService). Best effort: the caller does not wait for it. (A v2 index needs none: its
   * sessions no longer slide.)
   */
  touchIndex(sub: string): Promise<unknown> {
    return this.redis.pexpire(userIndexKey(sub), this.#indexLifetimeMs)
  }

  /** Shallow merge; a key set to null is removed. Throws `session_data_too_large` when the merged data would be too large. */
  async patch(id: string, patch: SessionData): Promise<Session | null> {
    const set = Object.entries(patch).filter(([, value]) => value !== null)
    const removed = Object.keys(patch).filter((name) => patch[name] === null)
    const members = toMembers(set)
    // Every key set ends up in the result, so its members alone bound the size from below: a patch that
    // cannot fit is refused here rather than spliced by Redis, which serves everyone else meanwhile.
    const leastBytes = members.reduce((sum, text) => sum + Buffer.byteLength(text) + 1, 1)
    if (leastBytes > SESSION_DATA_MAX_BYTES) throw tooLarge(leastBytes, true)
    const reply = await this.#scripts.patch.exec(
      [sessionKey(id)],
      [
        isV2Id(id) ? 'keep' : String(this.ttlSeconds),
        String(SESSION_DATA_MAX_BYTES),
        String(set.length),
        ...members,
        ...removed.map((name) => JSON.stringify(name)),
      ],
    )
    if (reply[0] === 0) return null
    if (reply[0] === 1) throw tooLarge(reply[1])
    if (reply[0] === 3) throw new CorruptSessionError(id, 'it is not a binding line and a JSON object')
    const { binding, data } = this.#stored.parse(id, `${reply[2]}${reply[1]}`)
    return this.#session(id, data, binding)
  }

  /**
   * Moves the session to a fresh id with the same tag; the old id is invalid from the same instant, and
   * its streams are told to end. `sub`: the user the session is bound to, whose index must follow the move.
   */
  async rotate(id: string, sub: string | null): Promise<Session | null> {
    if (isV2Id(id)) return this.#moveV2(id)
    const newId = newSessionId(tagOf(id))
    await this.#announce([id])
    const value = await this.#scripts.rotate.exec(
      [sessionKey(id), sessionKey(newId), ...(sub ? [userIndexKey(sub)] : [])],
      [String(this.ttlSeconds), id, newId, String(Date.now())],
    )
    if (value === null) return null
    await this.#announce([id])
    const { binding, data } = this.#stored.parse(newId, value)
    return this.#session(newId, data, binding)
  }

  /**
   * Rotates a v2 session into the v3 layout: its v2 key is taken away (read and deleted at once), then
   * its value is stored under a new id, as a creation would, indexed for its user. Two steps, since the
   * keys are in different slots: should the second fail, the session is gone and its user signs in
   * again, which is safe; the reverse, both ids working, cannot happen.
   */
  async #moveV2(id: string): Promise<Session | null> {
    await this.#announce([id])
    const value = await this.#scripts.v2Take.exec([keys.v2Session(id)], [])
    if (value === null) return null
    await this.#announce([id])
    const { binding, data } = this.#stored.parse(id, value)
    return this.#insert(value, data, binding)
  }

  /** How long session `id` has left, in ms; null when it is gone. */
  async remainingMs(id: string): Promise<number | null> {
    const ttl = await this.redis.pttl(sessionKey(id))
    return ttl === -2 ? null : ttl
  }

  /** Ends a session and the streams it opened; whether there was one. */
  async end(id: string): Promise<boolean> {
    await this.#announce([id])
    const ended = (await this.redis.del(sessionKey(id))) === 1
    if (ended) await this.#announce([id])
    return ended
  }

  /** User `sub`'s live sessions, oldest first (the index forgets the others as it goes). */
  async listUser(sub: string): Promise<UserSession[]> {
    const listed = await Promise.all(userIndexes(sub).map((index) => this.#live(index)))
    const now = Date.now()
    return listed
      .flat()
      .flatMap(([id, value, ttlMs]) => {
        const { binding } = this.#stored.parse(id, value)
        return binding ? [{ id, binding, expiresAt: new Date(now + ttlMs) }] : []
      })
      .sort((a, b) => a.binding.createdAt - b.binding.createdAt)
  }

  /**
   * Ends every session of user `sub` and the streams they opened; how many there were. Every session
   * created before the revocation began is ended; one created while it runs may survive it.
   */
  async revokeUser(sub: string): Promise<number> {
    let ended = 0
    for (const index of userIndexes(sub)) {
      ended += (await this.#endIndexed(index, await this.#scripts.indexed.exec([index], []))).length
    }
    return ended
  }

  /** The live sessions in `index`, oldest first, after dropping the ids of those that have gone. */
  async #live(index: string): Promise<Listed[]> {
    const ids = await this.#scripts.indexed.exec([index], [])
    return ids.length === 0 ? [] : this.#scripts.list.exec([index, ...ids.map(sessionKey)], ids)
  }

  /** Ends the oldest live sessions of user `sub` past the most a user keeps. */
  async #trimIndex(sub: string): Promise<void> {
    const index = userIndexKey(sub)
    const live = await this.#live(index)
    const excess = live.length - SESSIONS_PER_USER_MAX
    if (excess > 0)
      await this.#endIndexed(
        index,
        live.slice(0, excess).map(([id]) => id),
      )
  }

  /** Ends sessions `ids` of the user whose index is `index`, announced before and after; those that were live. */
  async #endIndexed(index: string, ids: string[]): Promise<string[]> {
    if (ids.length === 0) return []
    await this.#announce(ids)
    const ended = await this.#scripts.endIndexed.exec([index, ...ids.map(sessionKey)], ids)
    if (ended.length > 0) await this.#announce(ended)
    return ended
  }

  #announce(ids: string[]): Promise<number> {
    const stream = keys.revokedSessions()
    return this.#scripts.announce.exec([stream], [keys.streamNotifications(stream), ...ids])
  }
}

/**
 * The indexes of user `sub`'s sessions: the v3 one, and the v2 one for sessions written by builds before
 * v3. A v2 index lists v2 sessions in other slots: it only ever served a Redis that was not a cluster
 * (on a cluster, the v2 scripts that wrote it failed with CROSSSLOT), so on a cluster it is empty, and
 * only the single-key read of its ids ever runs.
 */
const userIndexes = (sub: string) => [userIndexKey(sub), keys.v2UserSessions(sub)]
