import { encodeFrame } from '../../sse/frames.js'
import type { BufferItem } from '../items.js'
import type { Reset } from '../store.js'

/**
 * What a subscriber of a buffer receives. An item is encoded once by the live reader and every
 * subscriber's queue holds the same bytes.
 */
export const itemFrame = ({ id, event, data }: BufferItem): Buffer => encodeFrame({ id, event, data })

/** No `id:`: the client's last event id stays the last item it really received. */
export const resetFrame = ({ reason, oldestId }: Reset): Buffer =>
  encodeFrame({ event: 'reset', data: JSON.stringify({ reason, oldestId }) })

/**
 * The first block of every stream: the reconnect delay, and the stream's starting position as its
 * `id:`. A block without data dispatches no event but still sets EventSource's last event id, so a
 * client that drops before its first item (a quiet buffer during a rolling restart) reconnects from
 * where it started, not from "now": nothing appended meanwhile is skipped.
 */
export const openingFrame = (retryMs: number, cursor: string): Buffer =>
  encodeFrame({ retry: retryMs, id: cursor })
