import type { ContentfulStatusCode } from 'hono/utils/http-status'

/**
 * A failure the client should be told about. Handlers and middleware throw these; the single
 * `app.onError` in app.ts turns them into `{"error":{"code","message"}}` with `status`.
 */
export class AppError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: string,
    message: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message)
    this.name = 'AppError'
  }
}

/** How long a client should wait before retrying after Redis trouble, in seconds. */
export const REDIS_RETRY_AFTER_SECONDS = 1

/**
 * Redis could not serve a command in time: disconnected, reconnecting or hung. Always a 503 with
 * Retry-After, never a 500, because it is the dependency's state, not a bug, and it passes.
 */
export class RedisUnavailableError extends AppError {
  /** `reason` is for logs only: it may name hosts, so it never reaches a response. */
  constructor(
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(503, 'redis_unavailable', 'Redis is unavailable, retry shortly', {
      'Retry-After': String(REDIS_RETRY_AFTER_SECONDS),
    })
    this.name = 'RedisUnavailableError'
    if (options?.cause !== undefined) this.cause = options.cause
  }
}

/** Redis did not answer within `timeoutMs`: connected but hung, or too slow. */
export class RedisTimeoutError extends RedisUnavailableError {
  constructor(readonly timeoutMs: number) {
    super(`no reply within ${timeoutMs} ms`)
    this.name = 'RedisTimeoutError'
  }
}
