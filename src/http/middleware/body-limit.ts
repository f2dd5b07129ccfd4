import { bodyLimit } from 'hono/body-limit'
import { ServiceError } from '../../lib/errors.js'

/**
 * Refuses a request body over `maxBytes` (BODY_LIMIT_BYTES) with the API's 413, with or without a
 * Content-Length. Mount it for body-carrying methods only: on @hono/node-server, looking at a GET's
 * body materialises a full Request object, a cost every hot read would pay for nothing.
 *
 * @example
 * ```ts
 * app.on(['POST', 'PUT', 'PATCH', 'DELETE'], '*', limitBody(1_048_576))
 * ```
 */
export const limitBody = (maxBytes: number) =>
  bodyLimit({
    maxSize: maxBytes,
    onError: () => {
      throw new ServiceError('too_large', 'payload_too_large', `Request body exceeds ${maxBytes} bytes`)
    },
  })
