import { createHmac, createSecretKey, type KeyObject, timingSafeEqual } from 'node:crypto'
import { SESSION_ID_PATTERN } from './ids.js'

/*
 * The session cookie: its signature (who issued it) and its header text (how it travels).
 *
 * Its value is the signed form of a session id, `<id>.<signature>`: the signature is HMAC-SHA256 of
 * the id, base64url. Signing uses the first secret; verification accepts any, so
 * SESSION_SECRET="new,old" rotates without logging anyone out.
 */

/**
 * The signature's shape, checked before any HMAC, as the id's is (SESSION_ID_PATTERN, ids.ts). 32 bytes
 * are 43 base64url characters, whose last carries the signature's last 4 bits and 2 unused bits, which
 * the canonical encoding leaves zero: only 16 characters can end it. Node's decoder ignores those bits,
 * so without this the 3 other values of the last character would verify too (a changed cookie taken
 * as the same, where the promise is that any tampering is a 401).
 */
const SIGNATURE_PATTERN = /^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$/

/** How many verified cookie values a signer remembers. */
const VERIFIED_CACHE_SIZE = 10_000

export interface VerifiedSessionId {
  id: string
  /** Signed with the current (first) secret, so the presented value can be sent back as it is. */
  current: boolean
}

/**
 * Signs and verifies session cookies for one app. A browser presents the same cookie value on every
 * request, so values that verified are remembered (a bounded map, oldest first out) and an
 * authenticated request usually costs no HMAC at all. Only successes are cached, so garbage cannot
 * evict real sessions faster than real traffic does.
 */
export class SessionCookieSigner {
  readonly #keys: readonly KeyObject[]
  readonly #verified = new Map<string, VerifiedSessionId>()

  constructor(secrets: readonly string[]) {
    if (secrets.length === 0) throw new Error('at least one session secret is required')
    this.#keys = secrets.map((secret) => createSecretKey(Buffer.from(secret)))
  }

  /** How many verified values are remembered now (at most 10,000). */
  get remembered(): number {
    return this.#verified.size
  }

  sign(id: string): string {
    return `${id}.${this.#signature(id, 0).toString('base64url')}`
  }

  /**
   * The id inside a signed cookie value, or null when the value is malformed or no secret signed it.
   * Shape checks come first and lengths are fixed, so the comparison itself is constant-time.
   */
  verify(value: string): VerifiedSessionId | null {
    const cached = this.#verified.get(value)
    if (cached) return cached
    const dot = value.indexOf('.')
    const id = value.slice(0, dot)
    const presented = value.slice(dot + 1)
    if (dot < 0 || !SESSION_ID_PATTERN.test(id) || !SIGNATURE_PATTERN.test(presented)) return null
    const presentedBytes = Buffer.from(presented, 'base64url')
    let signer = -1
    // Every secret is tried, even after a match, so timing does not reveal which secret signed it.
    for (let index = 0; index < this.#keys.length; index++) {
      if (timingSafeEqual(this.#signature(id, index), presentedBytes) && signer < 0) signer = index
    }
    if (signer < 0) return null
    const verified = { id, current: signer === 0 }
    this.#remember(value, verified)
    return verified
  }

  #signature(id: string, keyIndex: number): Buffer {
    return createHmac('sha256', this.#keys[keyIndex] as KeyObject)
      .update(id)
      .digest()
  }

  #remember(value: string, verified: VerifiedSessionId): void {
    if (this.#verified.size >= VERIFIED_CACHE_SIZE) {
      const oldest = this.#verified.keys().next().value
      if (oldest !== undefined) this.#verified.delete(oldest)
    }
    this.#verified.set(value, verified)
  }
}

export interface SessionCookieOptions {
  name: string
  maxAgeSeconds: number
  /** Add `Secure` (HTTPS only). */
  secure: boolean
}

const unquote = (value: string) =>
  value.length >= 2 && value.startsWith('"') && value.endsWith('"') ? value.slice(1, -1) : value

/**
 * The session cookie's header text: reading it from a `Cookie` header and writing `Set-Cookie`.
 * hono/cookie's parser and serializer are general (any name, quoted and URI-encoded values, every
 * attribute), which an authenticated read would pay for on every request; this cookie is always one
 * name, a base64url value with a dot, and fixed attributes, so the attributes are built once and
 * reading is a scan for one name.
 */
export class SessionCookie {
  readonly name: string
  readonly #attributes: string
  readonly #expired: string

  constructor({ name, maxAgeSeconds, secure }: SessionCookieOptions) {
    this.name = name
    const flags = `; Path=/; HttpOnly${secure ? '; Secure' : ''}; SameSite=Lax`
    this.#attributes = `; Max-Age=${maxAgeSeconds}${flags}`
    this.#expired = `${name}=; Max-Age=0${flags}`
  }

  /**
   * The value of the first cookie with this name in a `Cookie` header that `accept` takes (any, by
   * default), without the double quotes RFC 6265 allows around a value. Not URI-decoded: a value this
   * cookie sets never needs it. A browser can hold several cookies of one name (another path, a sibling
   * domain's, a stale one) and sends them in an order the server cannot choose, so a caller that
   * verifies values passes `accept`: one bad cookie then never hides a good one.
   */
  read(header: string | undefined, accept?: (value: string) => boolean): string | undefined {
    if (!header?.includes(this.name)) return undefined
    for (const pair of header.split(';')) {
      const eq = pair.indexOf('=')
      if (eq > 0 && pair.slice(0, eq).trim() === this.name) {
        const value = unquote(pair.slice(eq + 1).trim())
        if (!accept || accept(value)) return value
      }
    }
    return undefined
  }

  /** A `Set-Cookie` value that stores `value` for the full Max-Age. */
  set(value: string): string {
    return `${this.name}=${value}${this.#attributes}`
  }

  /** A `Set-Cookie` value that removes the cookie from the browser. */
  expire(): string {
    return this.#expired
  }
}
