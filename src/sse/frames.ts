/**
 * Server-sent events on the wire (WHATWG HTML, "Server-sent events"): a block of `field: value` lines
 * ending in a blank line. Frames are Buffers, encoded once: a socket's write() would wrap a plain
 * Uint8Array in a new Buffer on every write, once per subscriber per frame.
 */
export interface SseFields {
  /** Sets the client's last event id, which it sends back as Last-Event-ID when it reconnects. */
  id?: string
  /** The event type; `message` when absent. */
  event?: string
  /** The payload; a block with data dispatches an event, one without only sets its fields. */
  data?: string
  /** How long the client waits before reconnecting, in ms. */
  retry?: number
  /** A comment line: ignored by the client, but it keeps proxies and idle timers from closing the connection. */
  comment?: string
}

const LINE_BREAK = /\r\n|\r|\n/

function checkSingleLine(field: string, value: string): void {
  if (LINE_BREAK.test(value)) throw new TypeError(`SSE ${field} must not contain a line break`)
}

/** One block. Data with line breaks becomes several `data:` lines, which the client joins back. */
export function encodeFrame({ id, event, data, retry, comment }: SseFields): Buffer {
  let text = ''
  if (comment !== undefined) {
    checkSingleLine('comment', comment)
    text += `: ${comment}\n`
  }
  if (retry !== undefined) text += `retry: ${Math.trunc(retry)}\n`
  if (id !== undefined) {
    checkSingleLine('id', id)
    text += `id: ${id}\n`
  }
  if (event !== undefined) {
    checkSingleLine('event', event)
    text += `event: ${event}\n`
  }
  if (data !== undefined) text += `data: ${data.split(LINE_BREAK).join('\ndata: ')}\n`
  return Buffer.from(`${text}\n`)
}

/** A comment alone: dispatches nothing, and proves the connection is alive. */
export const HEARTBEAT_FRAME: Buffer = encodeFrame({ comment: 'heartbeat' })
