/**
 * What went wrong, in terms the caller can act on. The one error handler (src/http/middleware/errors.ts)
 * maps each kind to a status; nothing below the HTTP layer knows about statuses.
 */
export type FailureKind =
  /** The input breaks a rule: fixing the request fixes it. */
  | 'invalid'
  /** No acceptable credentials were presented. */
  | 'unauthenticated'
  /** The credentials are valid but do not cover this request. */
  | 'forbidden'
  | 'not_found'
  /** The input, or what it would make, exceeds a size limit. */
  | 'too_large'
  /** The input comes in a form the service does not read. */
  | 'unsupported'
  /** A dependency cannot serve right now; the same request may succeed shortly. */
  | 'unavailable'
  /** The caller is over a limit on how often or how much (requests per minute, open streams). */
  | 'rate_limited'

export interface ServiceErrorOptions {
  /** For `unauthenticated`: how to authenticate (an HTTP `WWW-Authenticate` challenge). */
  challenge?: string
  /** For `rate_limited`: whole seconds until a retry may succeed (an HTTP `Retry-After`), when known. */
  retryAfterSeconds?: number
  /**
   * A finer cause than the code, from a small fixed set the thrower owns, for the metrics only (for
   * `unauthenticated`: the reason of `hrs_auth_failures_total`); never sent to the client.
   */
  subcode?: string
  cause?: unknown
}

/**
 * A failure the caller is told about, with a stable `code` and a message meant for the caller. Domain
 * code and middleware throw these; anything else that reaches the error handler is a bug (a 500).
 *
 * @example
 * ```ts
 * throw new ServiceError('not_found', 'buffer_not_found', `No buffer named ${name}`)
 * ```
 */
export class ServiceError extends Error {
  readonly challenge: string | undefined
  readonly retryAfterSeconds: number | undefined
  readonly subcode: string | undefined

  constructor(
    readonly kind: FailureKind,
    readonly code: string,
    message: string,
    { challenge, retryAfterSeconds, subcode, cause }: ServiceErrorOptions = {},
  ) {
    super(message, cause === undefined ? undefined : { cause })
    this.name = 'ServiceError'
    this.challenge = challenge
    this.retryAfterSeconds = retryAfterSeconds
    this.subcode = subcode
  }
}
