import type { ServerResponse } from 'node:http'
import { Writable } from 'node:stream'
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response'
import type { Context } from 'hono'
import { encodeFrame } from './frames.js'

/** The headers of every event stream. `X-Accel-Buffering: no` keeps nginx from buffering it. */
export const EVENT_STREAM_HEADERS = {
  'Content-Type': 'text/event-stream',
  'Cache-Control': 'no-cache',
  'X-Accel-Buffering': 'no',
} as const

/**
 * A stream that sets a cookie (a session's refreshed expiry) must not be stored at all: `no-cache` would
 * still let a shared cache keep it, cookie included, as long as it revalidates before reuse.
 */
const NO_STORE = 'no-store'

export interface EventStream {
  /** Where the stream's bytes go. */
  sink: Writable
  /** Ends the response cleanly after what was written. */
  end(): void
  /** What the handler returns. */
  response: Response
}

/**
 * An event stream that ends at once, on a connection that closes, telling the client to come back
 * after `retryMs`: the answer of a server that cannot serve the stream right now. Any status but 200
 * would make EventSource give up for good; this makes it reconnect, with its Last-Event-ID, to a
 * server (this one or another) that can.
 */
export function retryLater(c: Context, retryMs: number): Response {
  return c.body(encodeFrame({ retry: retryMs }).toString(), 200, {
    ...EVENT_STREAM_HEADERS,
    Connection: 'close',
  })
}

/**
 * Starts a 200 event stream with the headers set so far (request id, a refreshed session cookie).
 *
 * On @hono/node-server (production) the sink is the Node `ServerResponse` itself: frames are written
 * straight to it, without Hono's Web Streams pipeline (TransformStream, ReadableStream and the
 * adapter's reader loop, per frame and per subscriber), and the handler returns
 * `RESPONSE_ALREADY_SENT` so the adapter leaves the response alone. Elsewhere (`app.request()`, other
 * runtimes) the sink is a Writable whose bytes become the body of a web Response, with the same
 * back-pressure contract, so the same Outbox drives both.
 */
export function openEventStream(c: Context): EventStream {
  const outgoing = (c.env as { outgoing?: ServerResponse } | undefined)?.outgoing
  if (!outgoing) {
    const { sink, body } = webSink()
    const response = c.newResponse(body, 200, EVENT_STREAM_HEADERS)
    if (response.headers.has('set-cookie')) response.headers.set('cache-control', NO_STORE)
    return { sink, end: () => sink.end(), response }
  }
  // Not `c.res`: once that exists, Hono re-wraps the returned response into one the adapter would
  // write out again, ignoring RESPONSE_ALREADY_SENT's marker.
  const { headers } = c.newResponse(null, 200, EVENT_STREAM_HEADERS)
  // One plain object for writeHead: no per-response header map kept for the stream's lifetime.
  const head: Record<string, string | string[]> = {}
  for (const [name, value] of headers) if (name !== 'set-cookie') head[name] = value
  const cookies = headers.getSetCookie()
  if (cookies.length > 0) {
    head['set-cookie'] = cookies
    head['cache-control'] = NO_STORE
  }
  // As Nchan does: no chunked framing, the body ends with the connection. Each frame is then one buffer
  // and one plain write() on the socket instead of a four-part writev (size, CRLF, frame, CRLF): less
  // CPU per subscriber per item, for the server and for every client parsing it. An event stream
  // ends only when its connection should close anyway (shutdown, a slow client, the client leaving).
  head.connection = 'close'
  // Without a Transfer-Encoding header Node would choose chunked; with `Connection: close` and no
  // length, removing it is what makes the body close-delimited.
  outgoing.removeHeader('Transfer-Encoding')
  outgoing.writeHead(200, head)
  const end = () => outgoing.end()
  // A response queued behind another one on a pipelined connection has no socket yet: it buffers
  // what is written through it until its turn comes.
  const socket = outgoing.socket
  if (!socket) return { sink: outgoing, end, response: RESPONSE_ALREADY_SENT }
  // Without chunked framing the body is the socket's bytes after the head, so frames go to the socket
  // itself: one write() each, sent at once, without the response's per-write cork and next-tick uncork.
  outgoing.flushHeaders()
  return { sink: socket, end, response: RESPONSE_ALREADY_SENT }
}

/**
 * A Writable whose bytes become a web ReadableStream. A write completes only once the reader asks for
 * more (`highWaterMark: 1` makes every `write()` return false and 'drain' follow), so a reader that
 * stops reading holds the writer back exactly as a full socket does. Cancelling the body destroys the
 * sink; destroying the sink ends the body after what the reader was already given.
 */
export function webSink(): { sink: Writable; body: ReadableStream<Uint8Array> } {
  let controller!: ReadableStreamDefaultController<Uint8Array>
  let onTaken: (() => void) | undefined
  const close = () => {
    try {
      controller.close()
    } catch {
      // Already closed or cancelled.
    }
  }
  const sink = new Writable({
    highWaterMark: 1,
    write(chunk: Uint8Array, _encoding, callback) {
      controller.enqueue(chunk)
      if ((controller.desiredSize ?? 0) >= 0) callback()
      else onTaken = callback
    },
    final(callback) {
      close()
      callback()
    },
    destroy(error, callback) {
      onTaken = undefined
      close()
      callback(error)
    },
  })
  const body = new ReadableStream<Uint8Array>(
    {
      start(started) {
        controller = started
      },
      pull() {
        const taken = onTaken
        onTaken = undefined
        taken?.()
      },
      cancel() {
        sink.destroy()
      },
    },
    { highWaterMark: 0 },
  )
  return { sink, body }
}
