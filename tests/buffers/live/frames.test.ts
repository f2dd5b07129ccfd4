import { describe, expect, it } from 'vitest'
import type { BufferItem } from '../../../src/buffers/items.js'
import { BufferSet } from '../../../src/buffers/live/buffer-set.js'
import { ONE_BUFFER_FRAMES, oneBufferFrames, SetFrames } from '../../../src/buffers/live/frames.js'
import { liveItem } from '../../../src/buffers/live/hub.js'

const item = (id: string, n: number): BufferItem => ({
  id,
  event: 'num',
  data: JSON.stringify({ n }),
  time: 0,
  prev: '',
})
const text = (frame: Uint8Array) => Buffer.from(frame).toString()
const idOf = (frame: Uint8Array) => /^id: (.*)\n/.exec(text(frame))?.[1] as string

describe('stream frames', () => {
  it("a one-buffer stream's: the item's own id, and the live reader's frame itself", () => {
    const live = liveItem('orders', item('5-0', 5))
    expect(ONE_BUFFER_FRAMES.live(live)).toBe(live.frame)
    expect(text(live.frame)).toBe('id: 5-0\nevent: num\ndata: {"n":5}\n\n')
    expect(oneBufferFrames('4-0').openingId).toBe('4-0')
  })

  it("a set's: the set's cursor after the item as its id, and the buffer in its data", () => {
    const set = new BufferSet(['prices', 'orders'])
    const frames = new SetFrames(set, ['0-0', '7-0'])
    expect(set.decode(frames.openingId)).toEqual(['0-0', '7-0'])
    const [orders, prices] = [frames.follower(0), frames.follower(1)]

    const fromPage = orders.item(item('3-0', 3))
    expect(text(fromPage)).toBe(
      `id: ${idOf(fromPage)}\nevent: num\ndata: {"buffer":"orders","id":"3-0","data":{"n":3}}\n\n`,
    )
    expect(set.decode(idOf(fromPage))).toEqual(['3-0', '7-0'])

    const live = liveItem('prices', item('8-0', 8))
    const fromLive = prices.live(live)
    expect(text(fromLive)).toBe(`id: ${idOf(fromLive)}\n${text(live.envelope)}`)
    expect(text(live.envelope)).toBe('event: num\ndata: {"buffer":"prices","id":"8-0","data":{"n":8}}\n\n')
    expect(set.decode(idOf(fromLive))).toEqual(['3-0', '8-0'])

    // A reset names its buffer and has no id; the next event's cursor restarts that buffer from 0-0.
    expect(text(orders.reset({ reason: 'deleted', oldestId: null }))).toBe(
      'event: reset\ndata: {"buffer":"orders","reason":"deleted","oldestId":null}\n\n',
    )
    expect(set.decode(idOf(prices.live(liveItem('prices', item('9-0', 9)))))).toEqual(['0-0', '9-0'])
  })

  it('streams of the same set at the same cursor share one frame per live item; any other makes its own', () => {
    // Three streams of the same buffers (each request builds its own set), two of them in step.
    const [a, b, behind] = [
      ['0-0', '7-0'],
      ['0-0', '7-0'],
      ['0-0', '6-0'],
    ].map((starts) => new SetFrames(new BufferSet(['orders', 'prices']), starts)) as [
      SetFrames,
      SetFrames,
      SetFrames,
    ]
    const other = new SetFrames(new BufferSet(['orders', 'stock']), ['0-0', '7-0'])
    const decode = (names: string[], frame: Uint8Array) => new BufferSet(names).decode(idOf(frame))

    const eight = liveItem('prices', item('8-0', 8))
    const [fromA, fromB] = [a.follower(1).live(eight), b.follower(1).live(eight)]
    expect(fromB).toBe(fromA)
    expect(decode(['orders', 'prices'], fromA)).toEqual(['0-0', '8-0'])
    const fromBehind = behind.follower(1).live(eight)
    expect(fromBehind).not.toBe(fromA)
    expect(text(fromBehind)).toBe(text(fromA))
    // Same positions, another set: another cursor (its checksum is seeded with the names).
    const fromOther = other.follower(1).live(eight)
    expect(idOf(fromOther)).not.toBe(idOf(fromA))
    expect(decode(['orders', 'stock'], fromOther)).toEqual(['0-0', '8-0'])

    // All three are in step now, whichever made the item's last frame.
    const nine = liveItem('prices', item('9-0', 9))
    const fromBehindNext = behind.follower(1).live(nine)
    expect(a.follower(1).live(nine)).toBe(fromBehindNext)
    expect(b.follower(1).live(nine)).toBe(fromBehindNext)
    expect(decode(['orders', 'prices'], fromBehindNext)).toEqual(['0-0', '9-0'])
  })
})
