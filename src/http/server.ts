import {
  createServer,
  type IncomingMessage,
  maxHeaderSize,
  type OutgoingHttpHeader,
  type OutgoingHttpHeaders,
  type RequestListener,
  type Server,
  type ServerOptions,
  type ServerResponse,
  STATUS_CODES,
} from 'node:http'
import type { Socket } from 'node:net'
import { SecureServerResponse } from './middleware/security-headers.js'

/** What the Node HTTP server needs to know, named as `Env` names it (main.ts passes the env). */
export interface HttpServerSettings {
  readonly httpHeadersTimeoutMs: number
  readonly httpRequestTimeoutMs: number
  readonly httpKeepAliveTimeoutMs: number
  readonly bodyLimitBytes: number
}

/**
 * Node checks the headers and request timeouts on an interval (30 s by default), so a timeout fires up
 * to one interval late. A quarter of the headers timeout, at most a second, keeps that small at the
 * cost of one walk over the open connections each time.
 */
const MAX_CHECK_INTERVAL_MS = 1000

/**
 * How long a connection refused with `Connection: close` keeps reading (and discarding) what the client
 * still sends before it is destroyed: long enough for what a client has in flight when the refusal
 * reaches it (its socket buffers: megabytes on a fast link).
 */
const LINGER_MS = 2000

/**
 * The options `serve()` of @hono/node-server takes besides `fetch`, `port` and `hostname`, for main.ts
 * and for the tests that serve the app over real HTTP, so both get the same server.
 *
 * @example
 * ```ts
 * const server = serve({ fetch: app.fetch, port: env.port, hostname: env.host, ...nodeServerOptions(env) })
 * ```
 */
export function nodeServerOptions(settings: HttpServerSettings): {
  serverOptions: ServerOptions
  createServer: typeof createServer
  autoCleanupIncoming: false
} {
  return {
    createServer: createJsonAnsweringServer,
    serverOptions: {
      ServerResponse: refusalAwareResponse(settings.bodyLimitBytes),
      headersTimeout: settings.httpHeadersTimeoutMs,
      requestTimeout: settings.httpRequestTimeoutMs,
      keepAliveTimeout: settings.httpKeepAliveTimeoutMs,
      connectionsCheckingInterval: Math.min(
        MAX_CHECK_INTERVAL_MS,
        Math.ceil(settings.httpHeadersTimeoutMs / 4),
      ),
    },
    // The adapter's own clean-up of an unread body stops reading after 500 ms and destroys the socket,
    // and reads nothing at all once something (hono's bodyLimit) has turned the body into a web stream:
    // the next request on that connection then fails with a reset. The response class below does it.
    autoCleanupIncoming: false,
  }
}

/**
 * The server's response class: {@link SecureServerResponse}, plus what a response decided before its
 * request's body was read (401, 404, 413, 415 to an upload) does with the rest of that body.
 *
 * Left unread, the body blocks the connection (the next request is behind it), and closing the socket
 * with unread bytes makes the kernel send a reset, which can reach the client before it has read the
 * response. So:
 * - a body whose declared length is within `drainLimitBytes` (BODY_LIMIT_BYTES: what an accepted
 *   request may cost anyway) is read and discarded after the response, and the connection kept;
 *   HTTP_REQUEST_TIMEOUT_MS bounds how long that may take;
 * - any other body (longer, or chunked with no length) gets `Connection: close` and a lingering close
 *   (RFC 9112, section 9.6): the service ends its side after the response, discards what the client
 *   still sends until the client closes, for at most {@link LINGER_MS}, then closes.
 */
function refusalAwareResponse(drainLimitBytes: number): typeof ServerResponse {
  class RefusalAwareResponse extends SecureServerResponse {
    override writeHead(
      statusCode: number,
      reasonOrHeaders?: string | OutgoingHttpHeaders | OutgoingHttpHeader[],
      maybeHeaders?: OutgoingHttpHeaders | OutgoingHttpHeader[],
    ): this {
      // A request without a body can be incomplete here too: Node marks it complete just after the
      // 'request' event, and a handler may answer within that event; `hasBody` tells them apart.
      if (!this.req.complete && hasBody(this.req)) this.refusedEarly()
      return typeof reasonOrHeaders === 'string'
        ? super.writeHead(statusCode, reasonOrHeaders, maybeHeaders)
        : super.writeHead(statusCode, reasonOrHeaders)
    }

    private refusedEarly(): void {
      const { req } = this
      const declared =
        req.headers['transfer-encoding'] === undefined ? Number(req.headers['content-length']) : Number.NaN
      if (!(declared <= drainLimitBytes)) {
        this.setHeader('connection', 'close')
        lingerOnClose(req.socket)
      }
      // After Node's own handler: with `Connection: close` it has just started the (lingering) close.
      this.once('finish', () => discardBody(req))
    }
  }
  return RefusalAwareResponse as unknown as typeof ServerResponse
}

function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length']
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0')
}

/**
 * Reads the rest of the body into nothing, as Node itself does for a body nobody touched (its
 * `IncomingMessage._dump`): Node skips that once a reader exists, and the web stream hono's request
 * wraps around the body is one that stops reading as soon as its queue is full.
 */
function discardBody(req: IncomingMessage): void {
  if (req.complete || req.destroyed) return
  req.removeAllListeners('data')
  req.resume()
}

/**
 * Makes the close Node starts after a `Connection: close` response (`socket.destroySoon()`: end, then
 * destroy once the end is written) a lingering one: end, then destroy when the client has closed its
 * side too, or after {@link LINGER_MS}. Reading goes on meanwhile through the request (see
 * `discardBody`), so the socket never closes with unread input.
 */
function lingerOnClose(socket: Socket): void {
  socket.destroySoon = () => {
    socket.end()
    // Both sides ended: the socket destroys itself (autoDestroy), with nothing unread.
    const timer = setTimeout(() => socket.destroy(), LINGER_MS)
    timer.unref()
    socket.once('close', () => clearTimeout(timer))
  }
}

/**
 * What Node's HTTP parser refuses before any route runs, by Node's error code: the status Node itself
 * would send, and the API's error body. Anything else it refuses is a 400 `bad_request`.
 */
const CLIENT_ERRORS: Record<string, { status: number; code: string; message: string }> = {
  HPE_HEADER_OVERFLOW: {
    status: 431,
    code: 'headers_too_large',
    // Node's limit: 16 KiB unless `--max-http-header-size` changes it.
    message: `The request head is larger than the server accepts (${maxHeaderSize} bytes)`,
  },
  HPE_CHUNK_EXTENSIONS_OVERFLOW: {
    status: 413,
    code: 'payload_too_large',
    message: 'The chunk extensions of the request body are larger than the server accepts',
  },
  ERR_HTTP_REQUEST_TIMEOUT: {
    status: 408,
    code: 'request_timeout',
    message: 'The request did not arrive in time',
  },
}
const MALFORMED = { status: 400, code: 'bad_request', message: 'Malformed HTTP request' }

/** `http.createServer`, with {@link answerClientErrorsInJson}; the one form `serve()` calls it in. */
const createJsonAnsweringServer = ((options: ServerOptions, listener: RequestListener) =>
  answerClientErrorsInJson(createServer(options, listener))) as typeof createServer

/**
 * Answers what Node's HTTP parser refuses (a malformed request, a head over 16 KiB, a request that
 * took too long) with the API's JSON error body, where Node would send a bare status line. As Node's
 * own handler does: only while no response of this connection is under way, then the socket closes.
 */
function answerClientErrorsInJson(server: Server): Server {
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) => {
    const inFlight = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage
    if (socket.writable && !inFlight?.headersSent) {
      const { status, code, message } = CLIENT_ERRORS[error.code ?? ''] ?? MALFORMED
      const body = JSON.stringify({ error: { code, message } })
      socket.write(
        `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json\r\n` +
          `Content-Length: ${Buffer.byteLength(body)}\r\nX-Content-Type-Options: nosniff\r\n` +
          `Connection: close\r\n\r\n${body}`,
      )
    }
    socket.destroy(error)
  })
  return server
}
