import type { BufferItem } from '../buffers/items.js'
import type { Reset } from '../buffers/store.js'

/**
 * SSE wire frames, encoded once: the live reader encodes an item once and every subscriber's queue
 * holds the same bytes. Ids, event names (validated) and JSON text never contain line breaks.
 * Buffers, not plain Uint8Arrays: a socket's write() would wrap a Uint8Array in a new Buffer on every
 * write, once per subscriber per item.
 */
export const itemFrame = ({ id, event, data }: BufferItem): Buffer =>
  Buffer.from(`id: ${id}\nevent: ${event}\ndata: ${data}\n\n`)

/** No `id:`: the client's last event id stays the last item it really received. */
export const resetFrame = ({ reason, oldestId }: Reset): Buffer =>
  Buffer.from(`event: reset\ndata: ${JSON.stringify({ reason, oldestId })}\n\n`)

/** How long EventSource waits before reconnecting. */
export const retryFrame = (retryMs: number): Buffer => Buffer.from(`retry: ${retryMs}\n\n`)

/**
 * The first block of every stream: the reconnect delay, and the stream's starting position as its
 * `id:`. A block without data dispatches no event but still sets EventSource's last event id, so a
 * client that drops before its first item (a quiet buffer during a rolling restart) reconnects from
 * where it started, not from "now": nothing appended meanwhile is skipped.
 */
export const openingFrame = (retryMs: number, cursor: string): Buffer =>
  Buffer.from(`retry: ${retryMs}\nid: ${cursor}\n\n`)

export const HEARTBEAT_FRAME: Buffer = Buffer.from(': heartbeat\n\n')
