/**
 * What went wrong, in terms the caller can act on. The one error handler (src/http/middleware/errors.ts)
 * maps each kind to a status; nothing below the HTTP layer knows about statuses.
 */
export type FailureKind =
  /** The input breaks a rule: fixing the request fixes it. */
  | 'invalid'
  /** No acceptable credentials were presented. */
  | 'unauthenticated'
  | 'not_found'
  /** The input, or what it would make, exceeds a size limit. */
  | 'too_large'
  /** The input comes in a form the service does not read. */
  | 'unsupported'
  /** A dependency cannot serve right now; the same request may succeed shortly. */
  | 'unavailable'

export interface ServiceErrorOptions {
  /** For `unauthenticated`: how to authenticate (an HTTP `WWW-Authenticate` challenge). */
  challenge?: string
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

  constructor(
    readonly kind: FailureKind,
    readonly code: string,
    message: string,
    { challenge, cause }: ServiceErrorOptions = {},
  ) {
    super(message, cause === undefined ? undefined : { cause })
    this.name = 'ServiceError'
    this.challenge = challenge
  }
}
