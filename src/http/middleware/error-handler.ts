import type { Context, ErrorHandler, NotFoundHandler } from 'hono'
import { HTTPException } from 'hono/http-exception'
import type { ContentfulStatusCode } from 'hono/utils/http-status'
import { type FailureKind, ServiceError } from '../../lib/errors.js'
import type { Logger } from '../../process/logger.js'
import { RedisUnavailableError } from '../../redis/failures.js'
import { retryLater } from '../../sse/event-stream.js'

/** The one error body shape of the API. */
export interface ErrorBody {
  error: { code: string; message: string; requestId?: string }
}

const STATUS_OF: Record<FailureKind, ContentfulStatusCode> = {
  invalid: 400,
  unauthenticated: 401,
  forbidden: 403,
  not_found: 404,
  too_large: 413,
  unsupported: 415,
  unavailable: 503,
  rate_limited: 429,
}

/** How long a client should wait before retrying after an outage, in seconds. */
const RETRY_AFTER_SECONDS = '1'

const HTTP_EXCEPTION_CODES: Partial<Record<number, string>> = {
  400: 'bad_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
}

/** Set by hono/request-id, which runs first; the handler itself is typed for any app. */
const requestIdOf = (c: Context) => c.get('requestId') as string | undefined

/** The `code` of the error body a request was answered with, for observers (see request-observer.ts). */
export interface FailureVariables {
  failureCode: string
}

function respond(c: Context, status: ContentfulStatusCode, code: string, message: string) {
  const body: ErrorBody = { error: { code, message } }
  c.set('failureCode', code)
  return c.json(body, status)
}

/**
 * The single place errors become responses. A ServiceError's kind decides its status: an
 * `unauthenticated` or `forbidden` one carries its challenge as `WWW-Authenticate`, an `unavailable` one (Redis
 * trouble) is a 503 with `Retry-After`, a `rate_limited` one a 429 with its own `Retry-After` when it
 * knows one. Hono's HTTPException (malformed JSON, for one) keeps its
 * status. Anything else is a bug: a 500 whose body carries only a generic message and the request id,
 * while the stack goes to the log.
 */
export interface ErrorHandlerOptions {
  /**
   * Called for every authentication failure before its 401 is sent; rejecting with a ServiceError (a
   * 429 once the client's budget of failures is spent) answers that error instead.
   */
  countAuthFailure?: (c: Context) => Promise<void>
  /** Told why each authentication failed (the error's `subcode`), for the metrics. */
  onAuthFailure?: (reason: string | undefined) => void
  /**
   * SSE_RETRY_MS. When set, a request that asks for `text/event-stream` (an EventSource) gets an outage as
   * an empty stream with this `retry:` instead of a 503: EventSource gives up for good on any status but
   * 200, and this way it comes back, wherever in the request Redis failed (the session read, the stream
   * slot, the first page).
   */
  eventStreamRetryMs?: number
}

export const handleError =
  (
    logger: Logger,
    { countAuthFailure, onAuthFailure, eventStreamRetryMs }: ErrorHandlerOptions = {},
  ): ErrorHandler =>
  async (error, c) => {
    if (error instanceof ServiceError && error.kind === 'unauthenticated') onAuthFailure?.(error.subcode)
    if (error instanceof ServiceError && error.kind === 'unauthenticated' && countAuthFailure) {
      try {
        await countAuthFailure(c)
      } catch (limited) {
        return answer(logger, limited, c, eventStreamRetryMs)
      }
    }
    return answer(logger, error, c, eventStreamRetryMs)
  }

function answer(
  logger: Logger,
  error: unknown,
  c: Context,
  eventStreamRetryMs: number | undefined,
): Response {
  if (error instanceof ServiceError) {
    if (error instanceof RedisUnavailableError) {
      logger.warn({ requestId: requestIdOf(c), reason: error.reason }, 'redis unavailable')
    }
    // Only for what an EventSource sends (a GET): a write answered with an empty stream would be a 200 its
    // client could take for success.
    if (
      error.kind === 'unavailable' &&
      eventStreamRetryMs !== undefined &&
      (c.req.method === 'GET' || c.req.method === 'HEAD') &&
      c.req.header('Accept')?.includes('text/event-stream')
    ) {
      return retryLater(c, eventStreamRetryMs)
    }
    if (error.challenge !== undefined) c.header('WWW-Authenticate', error.challenge)
    if (error.kind === 'unavailable') c.header('Retry-After', RETRY_AFTER_SECONDS)
    if (error.retryAfterSeconds !== undefined) c.header('Retry-After', String(error.retryAfterSeconds))
    return respond(c, STATUS_OF[error.kind], error.code, error.message)
  }
  if (error instanceof HTTPException) {
    const status = error.status as ContentfulStatusCode
    // @hono/zod-openapi refuses a body of another media type with a bare 415: say what to send instead.
    const message =
      status === 415 ? 'Send the body as application/json' : error.message || 'Request could not be processed'
    return respond(c, status, HTTP_EXCEPTION_CODES[status] ?? 'http_error', message)
  }
  const requestId = requestIdOf(c)
  logger.error({ err: error, requestId }, 'unhandled error')
  const body: ErrorBody = {
    error: { code: 'internal_error', message: 'Internal server error', ...(requestId && { requestId }) },
  }
  c.set('failureCode', body.error.code)
  return c.json(body, 500)
}

export const handleNotFound: NotFoundHandler = (c) =>
  respond(c, 404, 'not_found', `No route for ${c.req.method} ${c.req.path}`)
