import { randomBytes } from 'node:crypto'
import type { Grant } from '../access/grants.js'
import { ServiceError } from '../lib/errors.js'
import type { Redis, Script } from '../redis/client.js'
import { keys } from '../redis/keys.js'
import { readLuaScript } from '../redis/scripts.js'

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

/** How many binding lines a store remembers parsed: a session's line is the same on every read. */
const BINDINGS_REMEMBERED = 10_000

/** Parses stored values; the binding lines it has seen are parsed once (a bounded map, oldest out). */
class StoredValues {
  readonly #bindings = new Map<string, SessionBinding>()

  parse(stored: StoredValue): { binding: SessionBinding | null; data: SessionData } {
    const lineEnd = stored.indexOf('\n')
    if (lineEnd < 0) return { binding: null, data: JSON.parse(stored) as SessionData }
    return { binding: this.#binding(stored.slice(0, lineEnd)), data: JSON.parse(stored.slice(lineEnd + 1)) }
  }

  #binding(line: string): SessionBinding {
    let binding = this.#bindings.get(line)
    if (!binding) {
      binding = Object.freeze(JSON.parse(line) as SessionBinding)
      if (this.#bindings.size >= BINDINGS_REMEMBERED) {
        const oldest = this.#bindings.keys().next().value
        if (oldest !== undefined) this.#bindings.delete(oldest)
      }
      this.#bindings.set(line, binding)
    }
    return binding
  }
}

/** A session id: 192 bits from the CSPRNG, base64url (32 characters). */
const newSessionId = () => randomBytes(24).toString('base64url')

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

/**
 * Sessions in Redis, one string per session holding the data's JSON text, every operation one atomic
 * round trip: a read is GETEX (read and slide the expiry), a create SET NX EX, patch and rotate Lua
 * scripts. The expiry slides: every successful read or write resets it to the full TTL. Built once per
 * app; it loads its own scripts (src/redis/scripts/session-*.lua).
 */
export class SessionStore {
  private readonly scripts: {
    create: Script<0 | 1>
    patch: Script<[0] | [1, number] | [2, DataJson, string]>
    rotate: Script<StoredValue | null>
    end: Script<0 | 1>
    listUser: Script<[string, StoredValue, number][]>
    revokeUser: Script<number>
  }

  private readonly stored = new StoredValues()

  constructor(
    private readonly redis: Redis,
    private readonly ttlSeconds: number,
  ) {
    this.scripts = {
      create: redis.createScript(readLuaScript('session-create')),
      patch: redis.createScript(readLuaScript('session-patch')),
      rotate: redis.createScript(readLuaScript('session-rotate')),
      end: redis.createScript(readLuaScript('session-end')),
      listUser: redis.createScript(readLuaScript('user-sessions-list')),
      revokeUser: redis.createScript(readLuaScript('user-sessions-revoke')),
    }
  }

  private session(id: string, data: SessionData, binding: SessionBinding | null): Session {
    return { id, data, expiresAt: new Date(Date.now() + this.ttlSeconds * 1000), binding }
  }

  /** How long a user's index lives past its last refresh: longer than any session it lists can. */
  private get indexLifetimeMs(): number {
    return this.ttlSeconds * 2000
  }

  /** A new session holding `data`, bound to a user when `binding` is given (and then indexed). */
  async create(data: SessionData, binding: SessionBinding | null = null): Promise<Session> {
    const json = JSON.stringify(data)
    const size = Buffer.byteLength(json)
    if (size > SESSION_DATA_MAX_BYTES) throw tooLarge(size)
    const index = binding ? [keys.userSessions(binding.sub), keys.revokedSessions()] : []
    // A collision of 192 random bits will not happen; NX only makes the impossible case safe.
    for (;;) {
      const id = newSessionId()
      const created = await this.scripts.create.exec(
        [keys.session(id), ...index],
        [
          storedValue(binding, json),
          String(this.ttlSeconds),
          id,
          String(binding?.createdAt ?? 0),
          String(this.indexLifetimeMs),
          String(SESSIONS_PER_USER_MAX),
          keys.sessionPrefix(),
        ],
      )
      if (created === 1) return this.session(id, data, binding)
    }
  }

  /** GETEX: the session and a fresh TTL in one command; a missing key stays missing. */
  async read(id: string): Promise<Session | null> {
    const value = await this.redis.getexText(keys.session(id), { ex: this.ttlSeconds })
    if (value === null) return null
    const { binding, data } = this.stored.parse(value)
    return this.session(id, data, binding)
  }

  /**
   * Keeps user `sub`'s index alive while their sessions are: reads slide a session's TTL without
   * touching the index, so the index is given a lifetime of two TTLs again now and then (see
   * SessionService). Best effort: the caller does not wait for it.
   */
  touchIndex(sub: string): Promise<unknown> {
    return this.redis.pexpire(keys.userSessions(sub), this.indexLifetimeMs)
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
    const reply = await this.scripts.patch.exec(
      [keys.session(id)],
      [
        String(this.ttlSeconds),
        String(SESSION_DATA_MAX_BYTES),
        String(set.length),
        ...members,
        ...removed.map((name) => JSON.stringify(name)),
      ],
    )
    if (reply[0] === 0) return null
    if (reply[0] === 1) throw tooLarge(reply[1])
    const { binding, data } = this.stored.parse(`${reply[2]}${reply[1]}`)
    return this.session(id, data, binding)
  }

  /**
   * Moves the session to a fresh id; the old id is invalid from the same instant, and its streams are
   * told to end. `sub`: the user the session is bound to, whose index must follow the move.
   */
  async rotate(id: string, sub: string | null): Promise<Session | null> {
    const newId = newSessionId()
    const value = await this.scripts.rotate.exec(
      [
        keys.session(id),
        keys.session(newId),
        keys.revokedSessions(),
        ...(sub ? [keys.userSessions(sub)] : []),
      ],
      [String(this.ttlSeconds), id, newId, String(Date.now())],
    )
    if (value === null) return null
    const { binding, data } = this.stored.parse(value)
    return this.session(newId, data, binding)
  }

  /** How long session `id` has left, in ms; null when it is gone. */
  async remainingMs(id: string): Promise<number | null> {
    const ttl = await this.redis.pttl(keys.session(id))
    return ttl === -2 ? null : ttl
  }

  /** Ends a session and the streams it opened; whether there was one. */
  async end(id: string): Promise<boolean> {
    return (await this.scripts.end.exec([keys.session(id), keys.revokedSessions()], [id])) === 1
  }

  /** User `sub`'s live sessions, oldest first (the index forgets the others as it goes). */
  async listUser(sub: string): Promise<UserSession[]> {
    const live = await this.scripts.listUser.exec([keys.userSessions(sub)], [keys.sessionPrefix()])
    const now = Date.now()
    return live.flatMap(([id, value, ttlMs]) => {
      const { binding } = this.stored.parse(value)
      return binding ? [{ id, binding, expiresAt: new Date(now + ttlMs) }] : []
    })
  }

  /** Ends every session of user `sub` and the streams they opened; how many there were. */
  revokeUser(sub: string): Promise<number> {
    return this.scripts.revokeUser.exec(
      [keys.userSessions(sub), keys.revokedSessions()],
      [keys.sessionPrefix()],
    )
  }
}
