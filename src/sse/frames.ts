import type { BufferItem } from '../buffers/items.js'
import type { Reset } from '../buffers/store.js'

/**
 * SSE wire frames, encoded once: the live reader encodes an item once and every subscriber's queue
 * holds the same bytes. Ids, event names (validated) and JSON text never contain line breaks.
 */
const encoder = new TextEncoder()

export const itemFrame = ({ id, event, data }: BufferItem): Uint8Array =>
  encoder.encode(`id: ${id}\nevent: ${event}\ndata: ${data}\n\n`)

/** No `id:`: the client's last event id stays the last item it really received. */
export const resetFrame = ({ reason, oldestId }: Reset): Uint8Array =>
  encoder.encode(`event: reset\ndata: ${JSON.stringify({ reason, oldestId })}\n\n`)

/** The first block of every stream: how long EventSource waits before reconnecting. */
export const retryFrame = (retryMs: number): Uint8Array<ArrayBuffer> =>
  encoder.encode(`retry: ${retryMs}\n\n`)

export const HEARTBEAT_FRAME: Uint8Array = encoder.encode(': heartbeat\n\n')
