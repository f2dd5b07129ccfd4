import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'

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

export function isSessionId(value: string): boolean {
  return ID_PATTERN.test(value)
}

function signature(id: string, secret: string): Buffer {
  return createHmac('sha256', secret).update(id).digest()
}

export function signSessionId(id: string, secrets: readonly string[]): string {
  const [current] = secrets
  if (current === undefined) throw new Error('no session secret configured')
  return `${id}.${signature(id, current).toString('base64url')}`
}

export interface VerifiedSessionId {
  id: string
  /** Signed with the current (first) secret, so the presented value can be sent back as it is. */
  current: boolean
}

/**
 * The id inside a signed cookie value, or null when the value is malformed or no secret signed it.
 * Shape checks come first and lengths are fixed, so the comparison itself is constant-time.
 */
export function verifySignedSessionId(value: string, secrets: readonly string[]): VerifiedSessionId | null {
  const dot = value.indexOf('.')
  const id = value.slice(0, dot)
  const presented = value.slice(dot + 1)
  if (dot < 0 || !ID_PATTERN.test(id) || !SIGNATURE_PATTERN.test(presented)) return null
  const presentedBytes = Buffer.from(presented, 'base64url')
  let signer = -1
  // Every secret is tried, even after a match, so timing does not reveal which secret signed it.
  secrets.forEach((secret, index) => {
    if (timingSafeEqual(signature(id, secret), presentedBytes) && signer < 0) signer = index
  })
  return signer < 0 ? null : { id, current: signer === 0 }
}
