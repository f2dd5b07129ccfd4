import { describe, expect, it } from 'vitest'
import type { ServiceApp } from '../../../src/app.js'
import { BufferSet } from '../../../src/buffers/live/buffer-set.js'
import { keys } from '../../../src/redis/keys.js'
import {
  appendNumbers,
  bufferNamesAcrossShards,
  numbersOf,
  openSetEvents,
  range,
  servedUrl,
  setEventsPath,
  setItems,
  subscriberCount,
  tokenHeaders,
} from '../../support/buffers.js'
import { bearer, grantToken } from '../../support/grants.js'
import { type SseBlock, SseStream } from '../../support/sse-client.js'
import { buildAppOnTopology, masterOf, SUITE_TOPOLOGIES } from '../../support/topology.js'

/** Three fresh buffer names, sorted as the stream orders them; on the cluster, one on each master. */
const threeNames = () => bufferNamesAcrossShards(['a', 'b', 'c']).sort()

/** The positions a stream's last event id names, in its set's order. */
const positionsOf = (names: readonly string[], stream: SseStream) =>
  new BufferSet(names).decode(stream.lastEventId)

async function sessionCookie(app: ServiceApp, read: string[]): Promise<string> {
  const res = await app.request('/sessions', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ grant: await grantToken({ read }) }),
  })
  expect(res.status).toBe(201)
  return /^[^;]+/.exec(res.headers.get('set-cookie') ?? '')?.[0] as string
}

/** A refused stream request: its status and error code. */
async function refused(app: ServiceApp, path: string, headers: Record<string, string> = tokenHeaders) {
  const res = await app.request(path, { headers })
  const body = (await res.json()) as { error: { code: string } }
  return `${res.status} ${body.error.code}`
}

describe.each(SUITE_TOPOLOGIES)('GET /events: several buffers over one stream, on %s', async (topology) => {
  const { app, connection } = await buildAppOnTopology(topology, {
    SSE_HEARTBEAT_MS: '200',
    SSE_RETRY_MS: '1500',
    SSE_MAX_BUFFERS_PER_STREAM: '4',
  })

  it('opens with the cursor of every start, then sends each item with its buffer in the data and the cursor as id', async () => {
    const [a, b, c] = threeNames() as [string, string, string]
    // One stream over every shard's buffers (the one server's, standalone).
    const masters = [a, b, c].map((name) => masterOf(connection, keys.bufferItems(name)))
    expect(new Set(masters).size).toBe(topology === 'cluster' ? 3 : 1)
    const [a0] = await appendNumbers(app, a, [0])
    // Named out of order: the set is the same.
    const stream = await openSetEvents(app, [c, a, b])
    expect(await stream.nextBlock(1000)).toEqual({ retry: '1500', id: stream.lastEventId, comments: [] })
    expect(positionsOf([a, b, c], stream)).toEqual([a0, '0-0', '0-0'])

    const res = await app.request(`/buffers/${b}/items`, {
      method: 'POST',
      headers: { ...tokenHeaders, 'Content-Type': 'application/json' },
      body: JSON.stringify({ event: 'price', data: { p: 1 } }),
    })
    const { ids } = (await res.json()) as { ids: [string] }
    const [event] = await stream.events(1)
    expect(event).toMatchObject({
      event: 'price',
      data: `{"buffer":"${b}","id":"${ids[0]}","data":{"p":1}}`,
    })
    expect(positionsOf([a, b, c], stream)).toEqual([a0, ids[0], '0-0'])
    const [c1] = await appendNumbers(app, c, [1])
    expect(setItems(await stream.events(1))).toEqual([{ buffer: c, id: c1, event: 'message', data: 1 }])
    expect(positionsOf([a, b, c], stream)).toEqual([a0, ids[0], c1])
    await stream.close()
  })

  it('replays every buffer from the earliest, each in order, however the first pages are shared out', async () => {
    const names = threeNames()
    // 150 + 120 + 5 items: first pages of 33 each, then catch-up pages taking turns.
    await appendNumbers(app, names[0] as string, range(1, 150))
    await appendNumbers(app, names[1] as string, range(1, 120))
    await appendNumbers(app, names[2] as string, range(1, 5))
    const stream = await openSetEvents(app, names, { query: '&from=earliest' })
    const items = setItems(await stream.events(275))
    expect(numbersOf(items, names[0] as string)).toEqual(range(1, 150))
    expect(numbersOf(items, names[1] as string)).toEqual(range(1, 120))
    expect(numbersOf(items, names[2] as string)).toEqual(range(1, 5))
    await appendNumbers(app, names[2] as string, [6])
    expect(numbersOf(setItems(await stream.events(1)), names[2] as string)).toEqual([6])
    expect(await stream.quietFor(300)).toBe(true)
    await stream.close()
  })

  it('resumes every buffer exactly from its Last-Event-ID, also from ?lastEventId= and with the names reordered', async () => {
    const [a, b, c] = threeNames() as [string, string, string]
    await appendNumbers(app, a, range(1, 10))
    await appendNumbers(app, b, range(1, 10))
    const first = await openSetEvents(app, [a, b, c], { query: '&from=earliest' })
    // Whatever order they come in, 12 events: some of a, some of b.
    const seen = setItems(await first.events(12))
    await first.close()
    const cursor = first.lastEventId

    await appendNumbers(app, a, range(11, 15))
    await appendNumbers(app, c, range(1, 3))
    const expectRest = (items: ReturnType<typeof setItems>) => {
      expect([...numbersOf(seen, a), ...numbersOf(items, a)]).toEqual(range(1, 15))
      expect([...numbersOf(seen, b), ...numbersOf(items, b)]).toEqual(range(1, 10))
      expect([...numbersOf(seen, c), ...numbersOf(items, c)]).toEqual(range(1, 3))
    }
    const resumed = await openSetEvents(app, [c, b, a], { headers: { 'Last-Event-ID': cursor } })
    expectRest(setItems(await resumed.events(28 - 12)))
    expect(await resumed.quietFor(300)).toBe(true)
    await resumed.close()

    const byQuery = await openSetEvents(app, [a, b, c], { query: `&lastEventId=${cursor}` })
    expectRest(setItems(await byQuery.events(28 - 12)))
    await byQuery.close()
  })

  it('resets one buffer, naming it, while the others carry on exactly', async () => {
    const { app: small } = await buildAppOnTopology(topology, { BUFFER_MAX_LEN: '10' })
    const [a, b] = threeNames() as [string, string]
    await appendNumbers(small, a, range(1, 5))
    await appendNumbers(small, b, range(1, 5))
    const first = await openSetEvents(small, [a, b], { query: '&from=earliest' })
    await first.events(10)
    await first.close()

    // Meanwhile a's items after the cursor are trimmed away; b only grows.
    await appendNumbers(small, a, range(6, 25))
    await appendNumbers(small, b, range(6, 8))
    const resumed = await openSetEvents(small, [a, b], { headers: { 'Last-Event-ID': first.lastEventId } })
    const events = await resumed.events(1 + 10 + 3)
    const resets = events.filter((event) => event.event === 'reset')
    expect(resets).toHaveLength(1)
    expect(JSON.parse(resets[0]?.data as string)).toMatchObject({ buffer: a, reason: 'trimmed' })
    expect(resets[0]?.id).toBeUndefined()
    const items = setItems(events)
    expect(numbersOf(items, a)).toEqual(range(16, 25))
    expect(numbersOf(items, b)).toEqual([6, 7, 8])

    // Live: a is deleted and recreated; its follower is told, b's items keep coming without a reset.
    await small.request(`/buffers/${a}`, { method: 'DELETE', headers: tokenHeaders })
    await appendNumbers(small, b, [9])
    await appendNumbers(small, a, [100])
    await appendNumbers(small, b, [10])
    const live = await resumed.events(4)
    expect(
      live.filter((event) => event.event === 'reset').map((event) => JSON.parse(event.data as string)),
    ).toEqual([{ buffer: a, reason: 'deleted', oldestId: expect.any(String) }])
    expect(numbersOf(setItems(live), a)).toEqual([100])
    expect(numbersOf(setItems(live), b)).toEqual([9, 10])
    await resumed.close()
  })

  it('counts as a subscriber of each buffer, holds one stream slot, and ends with the session', async () => {
    const { app: limited } = await buildAppOnTopology(topology, { SSE_MAX_STREAMS_PER_SESSION: '1' })
    const [a, b, c] = threeNames() as [string, string, string]
    for (const name of [a, b, c]) await appendNumbers(limited, name, [1])
    const cookie = await sessionCookie(limited, [a, b, c])
    const url = `${await servedUrl(limited)}${setEventsPath([a, b, c])}`
    const stream = new SseStream(await fetch(url, { headers: { Cookie: cookie } }))
    await stream.nextBlock(1000)
    expect(await Promise.all([a, b, c].map((name) => subscriberCount(limited, name)))).toEqual([1, 1, 1])
    expect(await refused(limited, setEventsPath([a]), { Cookie: cookie })).toBe('429 too_many_streams')

    await limited.request('/sessions/current', { method: 'DELETE', headers: { Cookie: cookie } })
    const rest: SseBlock[] = []
    for (let block = await stream.nextBlock(2000); block; block = await stream.nextBlock(2000))
      rest.push(block)
    expect(rest.find((block) => block.event === 'revoked')?.data).toBe('{"reason":"session_ended"}')
    await expect.poll(() => subscriberCount(limited, a)).toBe(0)
  })

  it('needs every buffer to be readable: one that is not refuses the whole stream with 403', async () => {
    const [a, b] = threeNames() as [string, string]
    const onlyA = bearer(await grantToken({ read: [a] }))
    expect(await refused(app, setEventsPath([a, b]), onlyA)).toBe('403 forbidden')
    expect(await refused(app, setEventsPath([a, b]), { Cookie: await sessionCookie(app, [a]) })).toBe(
      '403 forbidden',
    )
    const both = await app.request(setEventsPath([a, b]), {
      headers: bearer(await grantToken({ read: [a, b] })),
    })
    expect(both.status).toBe(200)
    await both.body?.cancel()
    expect(await refused(app, setEventsPath([a, b]), {})).toBe('401 unauthorized')
  })

  it('refuses a set it would refuse anyway with its 400, not with a 403 for a name the grant lacks', async () => {
    const onlyA = bearer(await grantToken({ read: ['a'] }))
    expect(await refused(app, setEventsPath(['a', 'b', 'c', 'd', 'e']), onlyA)).toBe('400 invalid_buffer_set')
    expect(await refused(app, setEventsPath(['a', 'no spaces']), onlyA)).toBe('400 invalid_buffer_name')
  })

  it.each([
    ['no buffer', '/events', '400 invalid_buffer_set'],
    [
      'more than SSE_MAX_BUFFERS_PER_STREAM',
      setEventsPath(['a', 'b', 'c', 'd', 'e']),
      '400 invalid_buffer_set',
    ],
    ['a bad name', setEventsPath(['a', 'no spaces']), '400 invalid_buffer_name'],
    ['an unknown from', `${setEventsPath(['a'])}&from=latest`, '400 invalid_from'],
    ['a malformed cursor', `${setEventsPath(['a'])}&lastEventId=not%20a%20cursor`, '400 invalid_cursor'],
    ['an item id for a cursor', `${setEventsPath(['a'])}&lastEventId=1700000000000-0`, '400 invalid_cursor'],
  ])('answers %s with a 400 before any stream', async (_, path, outcome) => {
    expect(await refused(app, path)).toBe(outcome)
  })

  it('counts a name given twice once, and refuses a cursor of another set of buffers, or a damaged one', async () => {
    const [a, b, c] = threeNames() as [string, string, string]
    await appendNumbers(app, a, [1])
    const stream = await openSetEvents(app, [a, b, a])
    await stream.nextBlock(1000)
    expect(positionsOf([a, b], stream)).not.toBeNull()
    await stream.close()
    const cursor = stream.lastEventId
    const withCursor = (value: string) => ({ ...tokenHeaders, 'Last-Event-ID': value })
    expect(await refused(app, setEventsPath([a, c]), withCursor(cursor))).toBe('400 invalid_cursor')
    expect(await refused(app, setEventsPath([a, b, c]), withCursor(cursor))).toBe('400 invalid_cursor')
    const flipped = `${cursor.slice(0, 5)}${cursor[5] === 'A' ? 'B' : 'A'}${cursor.slice(6)}`
    expect(await refused(app, setEventsPath([a, b]), withCursor(flipped))).toBe('400 invalid_cursor')
    const again = await app.request(setEventsPath([b, a]), { headers: withCursor(cursor) })
    expect(again.status).toBe(200)
    await again.body?.cancel()
  })

  it('answers HEAD with the stream headers alone', async () => {
    const res = await app.request(setEventsPath(['a', 'b']), { method: 'HEAD', headers: tokenHeaders })
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/)
    expect(await res.text()).toBe('')
  })
})
