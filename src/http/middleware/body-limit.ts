import type { MiddlewareHandler } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import { ServiceError } from '../../lib/errors.js'

/**
 * Refuses a request body over `maxBytes` (BODY_LIMIT_BYTES) with the API's 413, with or without a
 * Content-Length. Mount it for body-carrying methods only.
 *
 * A body with a Content-Length (and no Transfer-Encoding) is judged by its header alone: Node's parser
 * delivers exactly that many bytes, no more. Only a chunked body is counted as it is read, by hono's
 * bodyLimit, which looks at `c.req.raw.body`: on @hono/node-server that materialises a full `Request`
 * and a web stream around the body (about a tenth of an append's CPU), where the JSON validator would
 * otherwise read the body straight from the socket.
 *
 * @example
 * ```ts
 * app.on(['POST', 'PUT', 'PATCH', 'DELETE'], '*', limitBody(1_048_576))
 * ```
 */
export function limitBody(maxBytes: number): MiddlewareHandler {
  const tooLarge = () => {
    throw new ServiceError('too_large', 'payload_too_large', `Request body exceeds ${maxBytes} bytes`)
  }
  const counted = bodyLimit({ maxSize: maxBytes, onError: tooLarge })
  return (c, next) => {
    const length = c.req.header('content-length')
    if (length === undefined || c.req.header('transfer-encoding') !== undefined) return counted(c, next)
    return Number.parseInt(length, 10) > maxBytes ? tooLarge() : next()
  }
}
