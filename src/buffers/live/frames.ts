import { encodeFrame } from '../../sse/frames.js'
import { BEFORE_ALL } from '../ids.js'
import type { BufferItem } from '../items.js'
import type { Reset } from '../store.js'
import type { BufferSet, SetCursor } from './buffer-set.js'
import type { LiveItem } from './hub.js'

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

/**
 * An item on a stream of several buffers, without its `id:` (each stream's cursor differs): its own
 * event name, and data that says where it comes from. Buffer names and ids need no JSON escaping.
 */
export const envelopeFrame = (buffer: string, { id, event, data }: BufferItem): Buffer =>
  encodeFrame({ event, data: `{"buffer":"${buffer}","id":"${id}","data":${data}}` })

/**
 * How one follower's items become frames on its stream. A frame is made just before it is pushed: a
 * set's frames move the stream's cursor, which every later frame of the stream names.
 */
export interface FollowerFrames {
  /** An item of a page (the first, or a catch-up page). */
  item(item: BufferItem): Uint8Array
  live(item: LiveItem): Uint8Array
  /** The follower's cursor restarts from `0-0` after it. */
  reset(reset: Reset): Uint8Array
}

/** A one-buffer stream's: each item's `id:` is its own id, and live frames are shared. */
export const ONE_BUFFER_FRAMES: FollowerFrames = {
  item: itemFrame,
  live: (item) => item.frame,
  reset: resetFrame,
}

/**
 * A live item's frame on a stream of set `set` (a {@link BufferSet.key}) whose cursor read `before` until
 * the item: its `id:` is `after`. Every stream of that set at that cursor makes exactly these bytes, so
 * the streams of a set that are in step (all of them, once live) share one frame per item, as one-buffer
 * streams do, instead of each encoding its cursor and copying the envelope.
 */
export interface SetFrameMemo {
  readonly set: string
  readonly before: string
  readonly after: string
  readonly frame: Uint8Array
}

/** The frames of a stream and of each of its followers. */
export interface StreamFrames {
  /** The opening block's `id:`: where the stream starts. */
  readonly openingId: string
  /** The frames of the follower of buffer `index` (in the stream's order). */
  follower(index: number): FollowerFrames
}

/** A one-buffer stream starting from `cursor`. */
export const oneBufferFrames = (cursor: string): StreamFrames => ({
  openingId: cursor,
  follower: () => ONE_BUFFER_FRAMES,
})

/**
 * The frames of a stream following a {@link BufferSet}: every item's `id:` is the stream's cursor after
 * it ({@link SetCursor}), so a client's Last-Event-ID always names the last item it received of every
 * buffer. Item frames share the live reader's envelope and add their own `id:` line.
 */
export class SetFrames implements StreamFrames {
  readonly #set: BufferSet
  readonly #cursor: SetCursor

  constructor(set: BufferSet, starts: readonly string[]) {
    this.#set = set
    this.#cursor = set.cursor(starts)
  }

  get openingId(): string {
    return this.#cursor.text()
  }

  follower(index: number): FollowerFrames {
    const buffer = this.#set.names[index] as string
    const cursor = this.#cursor
    const after = (id: string, envelope: Uint8Array): Uint8Array => {
      cursor.move(index, id)
      return withId(cursor.text(), envelope)
    }
    const set = this.#set.key
    return {
      item: (item) => after(item.id, envelopeFrame(buffer, item)),
      live: (item) => {
        const before = cursor.text()
        const memo = item.setFrame
        if (memo !== undefined && memo.before === before && memo.set === set) {
          cursor.moveAs(index, item.id, memo.after)
          return memo.frame
        }
        const frame = after(item.id, item.envelope)
        item.setFrame = { set, before, after: cursor.text(), frame }
        return frame
      },
      reset: ({ reason, oldestId }) => {
        cursor.move(index, BEFORE_ALL)
        // No `id:`, as on a one-buffer stream; the next event's cursor names the restart.
        return encodeFrame({ event: 'reset', data: JSON.stringify({ buffer, reason, oldestId }) })
      },
    }
  }
}

/** `frame` with an `id:` line before it: one buffer, one write. The id is base64url, so ASCII. */
function withId(id: string, frame: Uint8Array): Buffer {
  const head = `id: ${id}\n`
  const out = Buffer.allocUnsafe(head.length + frame.byteLength)
  out.write(head, 0, 'latin1')
  out.set(frame, head.length)
  return out
}
