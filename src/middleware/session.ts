import type { Context } from 'hono'
import { createMiddleware } from 'hono/factory'
import { AppError } from '../errors.js'
import { SessionCookie } from '../sessions/cookie.js'
import { SessionCookieSigner, type VerifiedSessionId } from '../sessions/signed-id.js'
import { type Session, type SessionScriptSources, SessionStore } from '../sessions/store.js'
import type { RedisVariables } from './redis.js'

export interface SessionOptions {
  /** The first signs new cookies; all verify. */
  secrets: readonly string[]
  ttlSeconds: number
  scripts: SessionScriptSources
  /** Send the cookie with `Secure` (HTTPS only). Default: true; turn it off only for plain-http development. */
  secure?: boolean
  /** Default: `sid`. */
  cookieName?: string
}

export interface SessionAccess {
  /** The store, bound to this request's Redis client. */
  readonly store: SessionStore
  /** The id in a validly signed cookie (which may name an expired session), or null. */
  readonly cookieId: string | null
  /** The session the cookie names, TTL refreshed and cookie re-sent; 401 when there is none. Memoised. */
  require(): Promise<Session>
  /** Sets the cookie for `session` with a full Max-Age. */
  issue(session: Session): void
  /** Expires the cookie in the browser. */
  clear(): void
}

export interface SessionVariables {
  session: SessionAccess
}

/** A signed cookie is 76 characters; anything much longer is not ours and is not worth verifying. */
const MAX_COOKIE_LENGTH = 256

/** The 401 for every request that needs a live session and has none. */
export const sessionRequired = () => new AppError(401, 'unauthorized', 'A valid session cookie is required')

interface Settings {
  signer: SessionCookieSigner
  cookie: SessionCookie
  scripts: SessionScriptSources
  ttlSeconds: number
}

/**
 * One request's view of its session. Everything is lazy: a route that never asks costs no HMAC and
 * no Redis round trip.
 */
class RequestSession implements SessionAccess {
  #store?: SessionStore
  #cookie?: { value: string; verified: VerifiedSessionId } | null
  #loaded?: Promise<Session>

  constructor(
    private readonly c: Context<{ Variables: SessionVariables & RedisVariables }>,
    private readonly settings: Settings,
  ) {}

  get store(): SessionStore {
    // Cheap per request: the facade hands back the scripts it already knows by source.
    this.#store ??= new SessionStore(this.c.get('redis'), this.settings.scripts, this.settings.ttlSeconds)
    return this.#store
  }

  private get cookie() {
    if (this.#cookie === undefined) {
      const value = this.settings.cookie.read(this.c.req.header('Cookie'))
      const verified = value && value.length <= MAX_COOKIE_LENGTH ? this.settings.signer.verify(value) : null
      this.#cookie = value && verified ? { value, verified } : null
    }
    return this.#cookie
  }

  get cookieId(): string | null {
    return this.cookie?.verified.id ?? null
  }

  require(): Promise<Session> {
    this.#loaded ??= (async () => {
      const id = this.cookieId
      const session = id === null ? null : await this.store.read(id)
      if (session === null) throw sessionRequired()
      this.issue(session)
      return session
    })()
    return this.#loaded
  }

  issue(session: Session): void {
    const { cookie, signer } = this.settings
    const presented = this.cookie
    // Re-sending the value the browser presented saves an HMAC on every authenticated request.
    const value =
      presented?.verified.id === session.id && presented.verified.current
        ? presented.value
        : signer.sign(session.id)
    this.c.header('Set-Cookie', cookie.set(value), { append: true })
  }

  clear(): void {
    this.c.header('Set-Cookie', this.settings.cookie.expire(), { append: true })
  }
}

/**
 * Browser sessions: `c.var.session` for every request. Nothing touches Redis until a handler asks, so
 * routes that do not use sessions pay nothing. The expiry is rolling: each authenticated response
 * re-sends the cookie with a fresh Max-Age, and the same round trip that reads the session resets its TTL.
 *
 * @example
 * ```ts
 * app.use(sessions({ secrets: env.sessionSecrets, ttlSeconds: 86400, scripts, secure: true }))
 * app.get('/me', async (c) => c.json((await c.var.session.require()).data))
 * ```
 */
export const sessions = ({
  secrets,
  ttlSeconds,
  scripts,
  secure = true,
  cookieName = 'sid',
}: SessionOptions) => {
  const settings: Settings = {
    signer: new SessionCookieSigner(secrets),
    cookie: new SessionCookie({ name: cookieName, maxAgeSeconds: ttlSeconds, secure }),
    scripts,
    ttlSeconds,
  }
  return createMiddleware<{ Variables: SessionVariables & RedisVariables }>(async (c, next) => {
    c.set('session', new RequestSession(c, settings))
    await next()
  })
}
