import type { RawStreamEntry } from '../redis/stream-reader.js'
import { DEFAULT_EVENT } from './limits.js'

/** One buffered item, as stored (see buffer-append.lua for the fields). */
export interface BufferItem {
  id: string
  event: string
  /** The item's data as JSON text, exactly as stored: it goes out without a parse/serialise round. */
  data: string
  /** Append time, ms since the epoch, from Redis's clock. */
  time: number
  /** The id of the item before it in the stream, '' for the first item of a stream. */
  prev: string
}

export function toBufferItem([id, fields]: RawStreamEntry): BufferItem {
  const item: BufferItem = { id, event: DEFAULT_EVENT, data: 'null', time: 0, prev: '' }
  for (let i = 0; i < fields.length; i += 2) {
    const value = fields[i + 1] as string
    switch (fields[i]) {
      case 'e':
        item.event = value
        break
      case 'd':
        item.data = value
        break
      case 't':
        item.time = Number(value)
        break
      case 'p':
        item.prev = value
        break
    }
  }
  return item
}
