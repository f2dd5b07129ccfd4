import {
  createLocalJWKSet,
  decodeProtectedHeader,
  errors,
  type JWTPayload,
  type JWTVerifyGetKey,
  jwtVerify,
} from 'jose'
import { z } from 'zod'
import type { Env, GrantPublicKey } from '../env.js'
import { ServiceError } from '../lib/errors.js'
import { type Grant, grantClaim } from './grants.js'

/** A grant token that verified: who it is for, what it allows, and until when (ms since the epoch). */
export interface VerifiedGrant {
  readonly sub: string
  readonly grant: Grant
  readonly expiresAt: number
}

export type GrantKeySettings = Pick<
  Env,
  'grantSecrets' | 'grantPublicKeys' | 'grantMaxTtlSeconds' | 'grantAudience' | 'grantIssuer'
>

/** A user id (a grant's `sub`) becomes part of Redis keys and logs: bounded, printable. */
export const userId = z.string().regex(/^[\x21-\x7e]{1,256}$/, {
  error: 'sub must be 1 to 256 printable ASCII characters',
})

const claims = z.object({
  sub: userId,
  exp: z.number(),
  buffers: grantClaim,
})

/** How many verified tokens to remember; a client sends the same token on every request. */
const VERIFIED_CACHE_SIZE = 10_000

const invalid = (message: string) =>
  new ServiceError('unauthenticated', 'invalid_grant', message, {
    challenge: 'Bearer error="invalid_token"',
    subcode: 'invalid_grant',
  })

/**
 * Verifies grant tokens: JWTs minted by the deployment's own backend, signed with one of
 * GRANT_SECRET (HS256) or a key of GRANT_PUBLIC_KEYS_FILE (its own `alg`: EdDSA, ES256 or RS256).
 *
 * The algorithm always comes from the key, never from the token: a token naming HS256 is checked only
 * against the secrets, any other only against the public keys with the algorithm each key declares.
 * So `alg: none`, and an HS256 token signed with a public key's bytes, are refused. `exp` and `sub` are
 * required, `exp` at most GRANT_MAX_TTL_SECONDS ahead; `aud` and `iss` are checked when configured.
 *
 * @example
 * ```ts
 * const tokens = new GrantTokens(env)
 * const { sub, grant } = await tokens.verify(bearer) // throws ServiceError 'invalid_grant'
 * ```
 */
export class GrantTokens {
  readonly #secrets: readonly Uint8Array[]
  readonly #publicKeys: JWTVerifyGetKey | undefined
  readonly #publicAlgorithms: string[]
  readonly #settings: GrantKeySettings
  readonly #verified = new Map<string, VerifiedGrant>()

  constructor(settings: GrantKeySettings) {
    this.#settings = settings
    this.#secrets = settings.grantSecrets.map((secret) => new TextEncoder().encode(secret))
    this.#publicAlgorithms = [...new Set(settings.grantPublicKeys.map((key: GrantPublicKey) => key.alg))]
    this.#publicKeys =
      settings.grantPublicKeys.length > 0
        ? createLocalJWKSet({ keys: settings.grantPublicKeys.map((key) => ({ ...key })) })
        : undefined
  }

  /** Whether any key is configured: without one, no grant token can verify. */
  get configured(): boolean {
    return this.#secrets.length > 0 || this.#publicKeys !== undefined
  }

  /** The grant `token` carries, or a ServiceError `invalid_grant` saying why it is refused. */
  async verify(token: string): Promise<VerifiedGrant> {
    const cached = this.#verified.get(token)
    if (cached && cached.expiresAt > Date.now()) return cached
    const payload = await this.#verifySignature(token)
    const parsed = claims.safeParse(payload)
    if (!parsed.success) {
      const issue = parsed.error.issues[0]
      throw invalid(`The grant token's claims are invalid: ${issue?.path.join('.')} ${issue?.message}`)
    }
    const { sub, exp, buffers } = parsed.data
    const maxExp = Date.now() / 1000 + this.#settings.grantMaxTtlSeconds
    if (exp > maxExp) {
      throw invalid(`The grant token expires too far ahead: at most ${this.#settings.grantMaxTtlSeconds} s`)
    }
    const verified: VerifiedGrant = Object.freeze({ sub, grant: buffers, expiresAt: exp * 1000 })
    this.#remember(token, verified)
    return verified
  }

  async #verifySignature(token: string): Promise<JWTPayload> {
    let alg: string | undefined
    try {
      alg = decodeProtectedHeader(token).alg
    } catch {
      throw invalid('The grant token is not a JWT')
    }
    const options = {
      requiredClaims: ['exp', 'sub'],
      ...(this.#settings.grantAudience !== undefined && { audience: this.#settings.grantAudience }),
      ...(this.#settings.grantIssuer !== undefined && { issuer: this.#settings.grantIssuer }),
    }
    try {
      if (alg === 'HS256') {
        for (const secret of this.#secrets) {
          try {
            return (await jwtVerify(token, secret, { ...options, algorithms: ['HS256'] })).payload
          } catch (error) {
            if (!(error instanceof errors.JWSSignatureVerificationFailed)) throw error
          }
        }
        throw invalid('The grant token is not signed by a known key')
      }
      if (!this.#publicKeys) throw invalid('The grant token is not signed by a known key')
      return (await jwtVerify(token, this.#publicKeys, { ...options, algorithms: this.#publicAlgorithms }))
        .payload
    } catch (error) {
      throw error instanceof ServiceError ? error : invalid(describe(error))
    }
  }

  #remember(token: string, verified: VerifiedGrant): void {
    if (this.#verified.size >= VERIFIED_CACHE_SIZE) {
      const oldest = this.#verified.keys().next().value
      if (oldest !== undefined) this.#verified.delete(oldest)
    }
    this.#verified.set(token, verified)
  }
}

/** A reason a client can act on, without echoing the token or the key. */
function describe(error: unknown): string {
  if (error instanceof errors.JWTExpired) return 'The grant token has expired'
  if (error instanceof errors.JWTClaimValidationFailed)
    return `The grant token's ${error.claim} claim is not accepted`
  if (error instanceof errors.JOSEAlgNotAllowed)
    return 'The grant token is signed with an algorithm its key does not use'
  if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWSSignatureVerificationFailed)
    return 'The grant token is not signed by a known key'
  return 'The grant token is malformed'
}
