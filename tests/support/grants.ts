import { SignJWT } from 'jose'
import { TEST_GRANT_SECRET } from './env.js'

export interface GrantOptions {
  sub?: string
  read?: string[]
  write?: string[]
  /** Seconds from now; negative for an expired token. Default 3600. */
  expiresIn?: number
  /** HS256 key. Default TEST_GRANT_SECRET, which test apps accept. */
  secret?: string | Uint8Array
}

/** A grant token as a deployment's backend would mint it (see doc/security.md). */
export function grantToken({
  sub = 'user-1',
  read = [],
  write = [],
  expiresIn = 3600,
  secret = TEST_GRANT_SECRET,
}: GrantOptions = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000)
  return new SignJWT({ buffers: { read, write } })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(sub)
    .setIssuedAt(now)
    .setExpirationTime(now + expiresIn)
    .sign(typeof secret === 'string' ? new TextEncoder().encode(secret) : secret)
}

export const bearer = (token: string) => ({ Authorization: `Bearer ${token}` })
