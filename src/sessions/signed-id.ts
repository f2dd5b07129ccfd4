import { createHmac, createSecretKey, type KeyObject, randomBytes, timingSafeEqual } from 'node:crypto'

/**
 * Session ids and their signed cookie form `<id>.<signature>`.
 *
 * The id is 192 bits from the CSPRNG, base64url (32 characters). The signature is HMAC-SHA256 of the
 * id, base64url. Signing uses the first secret; verification accepts any, so SESSION_SECRET="new,old"
 * rotates without logging anyone out.
 */

const ID_BYTES = 24
const ID_PATTERN = /^[A-Za-z0-9_-]{32}$/
const SIGNATURE_PATTERN = /^[A-Za-z0-9_-]{43}$/

export function newSessionId(): string {
  return randomBytes(ID_BYTES).toString('base64url')
}

export interface VerifiedSessionId {
  id: string
  /** Signed with the current (first) secret, so the presented value can be sent back as it is. */
  current: boolean
}

export interface SignerOptions {
  /** How many verified cookie values to remember. Default: 10,000 (about 1.5 MB). */
  cacheSize?: number
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
  readonly #cacheSize: number

  constructor(secrets: readonly string[], { cacheSize = 10_000 }: SignerOptions = {}) {
    if (secrets.length === 0) throw new Error('at least one session secret is required')
    this.#keys = secrets.map((secret) => createSecretKey(Buffer.from(secret)))
    this.#cacheSize = cacheSize
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
    if (dot < 0 || !ID_PATTERN.test(id) || !SIGNATURE_PATTERN.test(presented)) return null
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
    if (this.#verified.size >= this.#cacheSize) {
      const oldest = this.#verified.keys().next().value
      if (oldest !== undefined) this.#verified.delete(oldest)
    }
    this.#verified.set(value, verified)
  }
}
