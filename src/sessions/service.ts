import type { GrantTokens } from '../access/grant-tokens.js'
import { type Grant, NO_GRANT } from '../access/grants.js'
import { ServiceError } from '../lib/errors.js'
import type { RedisCommands } from '../redis/client.js'
import { SessionCookie, SessionCookieSigner, type VerifiedSessionId } from './cookie.js'
import { type Session, type SessionData, SessionStore } from './store.js'

export interface SessionServiceOptions {
  redis: RedisCommands
  /** Verifies the grant tokens that browsers exchange for bound sessions. */
  grantTokens: GrantTokens
  /** SESSIONS_ANONYMOUS: whether a session may be created without a grant (it can read nothing). */
  anonymous: boolean
  /** SESSION_SECRET: the first signs new cookies; all verify. */
  secrets: readonly string[]
  /** SESSION_TTL_SECONDS: how long a session lives after its last use, in Redis and in the browser. */
  ttlSeconds: number
  /** Send the cookie with `Secure` (HTTPS only). Off only for plain-http development. */
  secure: boolean
  /** Where sessions created, rotated and ended are counted (the app's metrics). */
  counters?: SessionCounts
}

/** What the service counts. Expiries are Redis's doing and are not seen; neither are a user's oldest sessions ended past the per-user maximum. */
export interface SessionCounts {
  created: number
  rotated: number
  /** `logout`; `replaced`: the session a cookie named when a new one was created over it (POST /sessions); `revoked`: by the admin API. */
  destroyed: { logout: number; replaced: number; revoked: number }
}

/**
 * Why a request has no session: no cookie (`missing`), a cookie that is not a validly signed id
 * (`invalid_cookie`), or a validly signed id whose session has gone, expired or ended (`unknown_session`).
 */
export type SessionAbsence = 'missing' | 'invalid_cookie' | 'unknown_session'

/** What sessions need of a request: its Cookie header, and a way to add a Set-Cookie header. */
export interface CookieJar {
  cookieHeader(): string | undefined
  setCookie(value: string): void
}

/** A signed cookie is 80 characters (76 with a v2 id); anything much longer is not ours and is not worth verifying. */
const MAX_COOKIE_LENGTH = 256

/** The failure of every request that needs a live session and has none. */
const sessionRequired = (reason: SessionAbsence) =>
  new ServiceError('unauthenticated', 'unauthorized', 'A valid session cookie is required', {
    subcode: reason,
  })

const grantRequired = () =>
  new ServiceError(
    'unauthenticated',
    'unauthorized',
    'A grant token is required to create a session: POST /sessions {"grant": "<token>"}',
    { challenge: 'Bearer', subcode: 'grant_required' },
  )

/** The most users whose index refresh a process remembers (see `touchIndexOf`). */
const TOUCHED_USERS_REMEMBERED = 10_000

/** The grant a session holds right now: none for an anonymous session, nor once its grant expired. */
export function grantOf(session: Session, now = Date.now()): Grant {
  const binding = session.binding
  return binding && binding.grantExpiresAt > now ? binding.grant : NO_GRANT
}

/**
 * Browser sessions for one app: the store, the cookie's signer and its header text, built once.
 * Each request gets its own view, {@link RequestSession}.
 *
 * @example
 * ```ts
 * const sessions = new SessionService({ redis, secrets, ttlSeconds: 86400, secure: true })
 * const session = sessions.forRequest({ cookieHeader: () => c.req.header('Cookie'), setCookie })
 * const { data } = await session.require()
 * ```
 */
export class SessionService {
  readonly store: SessionStore
  readonly signer: SessionCookieSigner
  readonly cookie: SessionCookie
  readonly grantTokens: GrantTokens
  readonly anonymous: boolean
  /** SESSION_TTL_SECONDS in ms: a session was last used this long before it expires. */
  readonly ttlMs: number
  readonly counters: SessionCounts
  readonly #indexTouchedAt = new Map<string, number>()

  constructor({
    redis,
    grantTokens,
    anonymous,
    secrets,
    ttlSeconds,
    secure,
    counters,
  }: SessionServiceOptions) {
    this.counters = counters ?? { created: 0, rotated: 0, destroyed: { logout: 0, replaced: 0, revoked: 0 } }
    this.store = new SessionStore(redis, ttlSeconds)
    this.signer = new SessionCookieSigner(secrets)
    this.cookie = new SessionCookie({ name: 'sid', maxAgeSeconds: ttlSeconds, secure })
    this.grantTokens = grantTokens
    this.anonymous = anonymous
    this.ttlMs = ttlSeconds * 1000
  }

  forRequest(jar: CookieJar): RequestSession {
    return new RequestSession(this, jar)
  }

  /** User sessions for the admin API: list and revoke all ("log out everywhere"). */
  listUser(sub: string) {
    return this.store.listUser(sub)
  }

  async revokeUser(sub: string): Promise<number> {
    const ended = await this.store.revokeUser(sub)
    this.counters.destroyed.revoked += ended
    return ended
  }

  /** How long session `id` has left, in ms; null when it is gone (expired or ended). */
  remainingMs(id: string): Promise<number | null> {
    return this.store.remainingMs(id)
  }

  /**
   * A read slides a session's TTL but not its user's index, which gives itself two TTLs at each
   * refresh: refreshing it at most every half TTL per process keeps it alive longer than any session it
   * lists, at the cost of one unawaited command per user per half TTL.
   */
  touchIndexOf(sub: string): void {
    const now = Date.now()
    const last = this.#indexTouchedAt.get(sub)
    if (last !== undefined && now - last < this.ttlMs / 2) return
    this.#indexTouchedAt.delete(sub)
    if (this.#indexTouchedAt.size >= TOUCHED_USERS_REMEMBERED) {
      const oldest = this.#indexTouchedAt.keys().next().value
      if (oldest !== undefined) this.#indexTouchedAt.delete(oldest)
    }
    this.#indexTouchedAt.set(sub, now)
    this.store.touchIndex(sub).catch(() => this.#indexTouchedAt.delete(sub))
  }
}

/**
 * One request's session: everything a route does with it, each one Redis round trip. Writes go
 * straight to the id in the signed cookie (a script answers "no such session"), so there is no read
 * first. Every success re-sends the cookie with a full Max-Age: the expiry slides in the browser as it
 * does in Redis. Lazy: a request that never asks costs no HMAC and no Redis round trip.
 */
export class RequestSession {
  #presented?: { value: string; verified: VerifiedSessionId } | null
  #current?: Promise<Session | null>

  constructor(
    private readonly service: SessionService,
    private readonly jar: CookieJar,
  ) {}

  /** The id in a validly signed cookie (which may name an expired session), or null. */
  private get cookieId(): string | null {
    if (this.#presented === undefined) {
      let verified: VerifiedSessionId | null = null
      const value = this.service.cookie.read(this.jar.cookieHeader(), (candidate) => {
        verified = candidate.length <= MAX_COOKIE_LENGTH ? this.service.signer.verify(candidate) : null
        return verified !== null
      })
      this.#presented = value && verified ? { value, verified } : null
    }
    return this.#presented?.verified.id ?? null
  }

  /** The session the cookie names, its expiry refreshed; null when there is none. Memoised. */
  current(): Promise<Session | null> {
    this.#current ??= this.#resolveCurrent()
    return this.#current
  }

  /** As {@link current}, but a missing session is a `sessionRequired` failure. */
  async require(): Promise<Session> {
    const session = await this.current()
    if (session === null) throw sessionRequired(this.absence())
    return session
  }

  /** Why there is no session, once {@link current} found none (for the metrics of authentication failures). */
  absence(): SessionAbsence {
    if (this.cookieId !== null) return 'unknown_session'
    return this.service.cookie.read(this.jar.cookieHeader()) ? 'invalid_cookie' : 'missing'
  }

  /**
   * Starts an anonymous session holding `data`, where SESSIONS_ANONYMOUS allows it; it reads nothing.
   * As with a grant exchange, the session the cookie named, if any, ends: a browser holds one session,
   * and the one it no longer has the cookie of must not stay valid until its TTL.
   */
  async create(data: SessionData): Promise<Session> {
    if (!this.service.anonymous) throw grantRequired()
    const session = await this.service.store.create(data)
    this.service.counters.created++
    await this.#endPrevious()
    return this.#issue(session)
  }

  /**
   * Exchanges a grant token for a session bound to its user and holding its grant until the token's
   * `exp`: how a browser gets read access without ever sending the token again. Always a fresh id
   * (fixation defence); the session the cookie named, if any, ends.
   */
  async exchange(token: string, data: SessionData): Promise<Session> {
    const { sub, grant, expiresAt } = await this.service.grantTokens.verify(token)
    const binding = { sub, grant, grantExpiresAt: expiresAt, createdAt: Date.now() }
    const session = await this.service.store.create(data, binding)
    this.service.counters.created++
    await this.#endPrevious()
    return this.#issue(session)
  }

  /**
   * Ends the session the cookie named, once a new one replaces it: with the revocation that ends its
   * streams (store.end), so nothing it opened outlives it.
   */
  async #endPrevious(): Promise<void> {
    const previous = this.cookieId
    if (previous !== null && (await this.service.store.end(previous)))
      this.service.counters.destroyed.replaced++
  }

  /** The grant the current session holds now; none without a session. */
  async grant(): Promise<Grant> {
    const session = await this.current()
    return session ? grantOf(session) : NO_GRANT
  }

  /** Shallow-merges `patch` into the current session; a key set to null is removed. */
  patch(patch: SessionData): Promise<Session> {
    return this.#writeCurrent((id) => this.service.store.patch(id, patch))
  }

  /** Moves the current session to a fresh id; the old one stops working at once. */
  rotate(): Promise<Session> {
    return this.#writeCurrent(async (id) => {
      // The script must know the user, to index the new id; a rotation is rare, one more read is fine.
      const session = await this.service.store.read(id)
      const rotated = session && (await this.service.store.rotate(id, session.binding?.sub ?? null))
      if (rotated) this.service.counters.rotated++
      return rotated
    })
  }

  /**
   * Ends the current session. The cookie is cleared only once Redis has answered: after an outage the
   * browser must still hold it, so that retrying the logout can delete the session.
   */
  async logout(): Promise<void> {
    const id = this.cookieId
    const deleted = id !== null && (await this.service.store.end(id))
    this.jar.setCookie(this.service.cookie.expire())
    if (!deleted) throw sessionRequired(this.absence())
    this.service.counters.destroyed.logout++
  }

  async #resolveCurrent(): Promise<Session | null> {
    const id = this.cookieId
    const session = id === null ? null : await this.service.store.read(id)
    if (session?.binding) this.service.touchIndexOf(session.binding.sub)
    return session && this.#issue(session)
  }

  async #writeCurrent(write: (id: string) => Promise<Session | null>): Promise<Session> {
    const id = this.cookieId
    const session = id === null ? null : await write(id)
    if (session === null) throw sessionRequired(this.absence())
    if (session.binding) this.service.touchIndexOf(session.binding.sub)
    return this.#issue(session)
  }

  /** Sets the cookie for `session` with a full Max-Age. */
  #issue(session: Session): Session {
    const presented = this.#presented
    // Re-sending the value the browser presented saves an HMAC on every authenticated request.
    const value =
      presented?.verified.id === session.id && presented.verified.current
        ? presented.value
        : this.service.signer.sign(session.id)
    this.jar.setCookie(this.service.cookie.set(value))
    return session
  }
}
