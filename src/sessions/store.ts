import { randomBytes } from 'node:crypto'
import { ServiceError } from '../lib/errors.js'
import type { Redis, Script } from '../redis/client.js'
import { keys } from '../redis/keys.js'
import { readLuaScript } from '../redis/scripts.js'

/** A session's data: a JSON object. Top-level keys are what PATCH merges. */
export type SessionData = Record<string, unknown>

export interface Session {
  id: string
  data: SessionData
  expiresAt: Date
}

/** The largest session data accepted, as UTF-8 bytes of its JSON. */
const SESSION_DATA_MAX_BYTES = 4096

/** The data's JSON text: what a session key holds and the scripts return. */
type DataJson = string

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

const parseData = (json: DataJson) => JSON.parse(json) as SessionData

/**
 * Sessions in Redis, one string per session holding the data's JSON text, every operation one atomic
 * round trip: a read is GETEX (read and slide the expiry), a create SET NX EX, patch and rotate Lua
 * scripts. The expiry slides: every successful read or write resets it to the full TTL. Built once per
 * app; it loads its own scripts (src/redis/scripts/session-*.lua).
 */
export class SessionStore {
  private readonly scripts: {
    patch: Script<[0] | [1, number] | [2, DataJson]>
    rotate: Script<DataJson | null>
  }

  constructor(
    private readonly redis: Redis,
    private readonly ttlSeconds: number,
  ) {
    this.scripts = {
      patch: redis.createScript(readLuaScript('session-patch')),
      rotate: redis.createScript(readLuaScript('session-rotate')),
    }
  }

  private session(id: string, data: SessionData): Session {
    return { id, data, expiresAt: new Date(Date.now() + this.ttlSeconds * 1000) }
  }

  async create(data: SessionData): Promise<Session> {
    const json = JSON.stringify(data)
    const size = Buffer.byteLength(json)
    if (size > SESSION_DATA_MAX_BYTES) throw tooLarge(size)
    // A collision of 192 random bits will not happen; NX only makes the impossible case safe.
    for (;;) {
      const id = newSessionId()
      const created = await this.redis.set(keys.session(id), json, { ex: this.ttlSeconds, nx: true })
      if (created === 'OK') return this.session(id, data)
    }
  }

  /** GETEX: the data and a fresh TTL in one command; a missing key stays missing. */
  async read(id: string): Promise<Session | null> {
    const data = await this.redis.getex<SessionData>(keys.session(id), { ex: this.ttlSeconds })
    return data === null ? null : this.session(id, data)
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
    return this.session(id, parseData(reply[1]))
  }

  /** Moves the session to a fresh id; the old id is invalid from the same instant. */
  async rotate(id: string): Promise<Session | null> {
    const newId = newSessionId()
    const json = await this.scripts.rotate.exec(
      [keys.session(id), keys.session(newId)],
      [String(this.ttlSeconds)],
    )
    return json === null ? null : this.session(newId, parseData(json))
  }

  /** Returns whether a session was deleted. */
  async destroy(id: string): Promise<boolean> {
    return (await this.redis.del(keys.session(id))) > 0
  }
}
