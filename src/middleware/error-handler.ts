import type { Context, ErrorHandler, NotFoundHandler } from 'hono'
import { HTTPException } from 'hono/http-exception'
import type { ContentfulStatusCode } from 'hono/utils/http-status'
import { AppError, RedisUnavailableError } from '../errors.js'
import type { Logger } from '../logger.js'

/** The one error body shape of the API. */
export interface ErrorBody {
  error: { code: string; message: string; requestId?: string }
}

const HTTP_EXCEPTION_CODES: Partial<Record<number, string>> = {
  400: 'bad_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
}

function respond(c: Context, status: ContentfulStatusCode, code: string, message: string) {
  const body: ErrorBody = { error: { code, message } }
  return c.json(body, status)
}

/**
 * The single place errors become responses. AppError and HTTPException keep their status and code;
 * Redis trouble is a 503 with Retry-After; anything else is a 500 whose body carries only a generic
 * message and the request id, while the stack goes to the log.
 */
export const handleError =
  (logger: Logger): ErrorHandler =>
  (error, c) => {
    if (error instanceof RedisUnavailableError) {
      logger.warn({ requestId: c.get('requestId'), reason: error.reason }, 'redis unavailable')
    }
    if (error instanceof AppError) {
      for (const [name, value] of Object.entries(error.headers)) c.header(name, value)
      return respond(c, error.status, error.code, error.message)
    }
    if (error instanceof HTTPException) {
      const status = error.status as ContentfulStatusCode
      const message = error.message || 'Request could not be processed'
      return respond(c, status, HTTP_EXCEPTION_CODES[status] ?? 'http_error', message)
    }
    const requestId = c.get('requestId') as string | undefined
    logger.error({ err: error, requestId }, 'unhandled error')
    const body: ErrorBody = {
      error: { code: 'internal_error', message: 'Internal server error', ...(requestId && { requestId }) },
    }
    return c.json(body, 500)
  }

export const handleNotFound: NotFoundHandler = (c) =>
  respond(c, 404, 'not_found', `No route for ${c.req.method} ${c.req.path}`)
