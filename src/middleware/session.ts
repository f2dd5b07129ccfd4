import type { Context } from 'hono'
import { deleteCookie, getCookie, setCookie } from 'hono/cookie'
import { createMiddleware } from 'hono/factory'
import { AppError } from '../errors.js'
import { signSessionId, verifySignedSessionId } from '../sessions/signed-id.js'
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
  const cookieOptions = { httpOnly: true, sameSite: 'Lax', path: '/', secure } as const

  function cookieSessionId(c: Context): string | null {
    const value = getCookie(c, cookieName)
    if (!value || value.length > MAX_COOKIE_LENGTH) return null
    return verifySignedSessionId(value, secrets)
  }

  return createMiddleware<{ Variables: SessionVariables & RedisVariables }>(async (c, next) => {
    const store = new SessionStore(c.var.redis, scripts, ttlSeconds)
    const cookieId = cookieSessionId(c)
    let loaded: Promise<Session> | undefined
    const access: SessionAccess = {
      store,
      cookieId,
      require: () => {
        loaded ??= (async () => {
          const session = cookieId === null ? null : await store.read(cookieId)
          if (session === null) throw sessionRequired()
          access.issue(session)
          return session
        })()
        return loaded
      },
      issue: (session) =>
        setCookie(c, cookieName, signSessionId(session.id, secrets), {
          ...cookieOptions,
          maxAge: ttlSeconds,
        }),
      clear: () => deleteCookie(c, cookieName, cookieOptions),
    }
    c.set('session', access)
    await next()
  })
}
