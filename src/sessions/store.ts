import { AppError } from '../errors.js'
import type { Redis, Script } from '../redis/facade.js'
import { keys } from '../redis/keys.js'
import { newSessionId } from './signed-id.js'

/** A session's data: a JSON object. Top-level keys are what PATCH merges. */
export type SessionData = Record<string, unknown>

export interface Session {
  id: string
  data: SessionData
  expiresAt: Date
}

/** The largest session data accepted, as UTF-8 bytes of its JSON. */
export const SESSION_DATA_MAX_BYTES = 4096

/** The Lua sources the store runs; read once per app (see readLuaScript). */
export interface SessionScriptSources {
  create: string
  read: string
  patch: string
  rotate: string
}

/** The data as JSON text, as the scripts return it (see includes/session-data-json.lua). */
type DataJson = string

const tooLarge = (bytes: number) =>
  new AppError(
    413,
    'session_data_too_large',
    `Session data would be ${bytes} bytes of JSON; the limit is ${SESSION_DATA_MAX_BYTES}`,
  )

/** The hash fields for an object: JSON-encoded key, JSON-encoded value (see session-create.lua). */
function toFields(data: SessionData): string[] {
  return Object.entries(data).flatMap(([name, value]) => [JSON.stringify(name), JSON.stringify(value)])
}

const parseData = (json: DataJson) => JSON.parse(json) as SessionData

/**
 * Sessions in Redis, one hash per session, every operation one atomic round trip (a Lua script).
 * The expiry slides: every successful read or write resets it to the full TTL.
 */
export class SessionStore {
  private readonly scripts: {
    create: Script<number>
    read: Script<DataJson | null>
    patch: Script<[0] | [1, number] | [2, DataJson]>
    rotate: Script<DataJson | null>
  }

  constructor(
    private readonly redis: Redis,
    sources: SessionScriptSources,
    private readonly ttlSeconds: number,
  ) {
    this.scripts = {
      create: redis.createScript(sources.create),
      read: redis.createScript(sources.read),
      patch: redis.createScript(sources.patch),
      rotate: redis.createScript(sources.rotate),
    }
  }

  private session(id: string, data: SessionData): Session {
    return { id, data, expiresAt: new Date(Date.now() + this.ttlSeconds * 1000) }
  }

  async create(data: SessionData): Promise<Session> {
    const size = Buffer.byteLength(JSON.stringify(data))
    if (size > SESSION_DATA_MAX_BYTES) throw tooLarge(size)
    const ttl = String(this.ttlSeconds)
    // A collision of 192 random bits will not happen; the loop only makes the impossible case safe.
    for (;;) {
      const id = newSessionId()
      const created = await this.scripts.create.exec(
        [keys.session(id)],
        [ttl, String(Date.now()), ...toFields(data)],
      )
      if (created === 1) return this.session(id, data)
    }
  }

  async read(id: string): Promise<Session | null> {
    const json = await this.scripts.read.exec([keys.session(id)], [String(this.ttlSeconds)])
    return json === null ? null : this.session(id, parseData(json))
  }

  /** Shallow merge; a key set to null is removed. Throws 413 when the merged data would be too large. */
  async patch(id: string, patch: SessionData): Promise<Session | null> {
    const set = Object.entries(patch).filter(([, value]) => value !== null)
    const removed = Object.keys(patch).filter((name) => patch[name] === null)
    const reply = await this.scripts.patch.exec(
      [keys.session(id)],
      [
        String(this.ttlSeconds),
        String(SESSION_DATA_MAX_BYTES),
        String(set.length),
        ...toFields(Object.fromEntries(set)),
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
