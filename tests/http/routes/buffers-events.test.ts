import { connect } from 'node:net'
import { describe, expect, it } from 'vitest'
import {
  appendNumbers,
  bufferName,
  datas,
  openEvents,
  range,
  servedUrl,
  tokenHeaders,
} from '../../support/buffers.js'
import { grantToken } from '../../support/grants.js'
import type { SseBlock } from '../../support/sse-client.js'
import { buildAppOnTopology, SUITE_TOPOLOGIES } from '../../support/topology.js'

describe.each(SUITE_TOPOLOGIES)('GET /buffers/:name/events on %s', async (topology) => {
  const { app } = await buildAppOnTopology(topology, { SSE_HEARTBEAT_MS: '200', SSE_RETRY_MS: '1500' })

  it('opens at once with retry:, the SSE headers, and heartbeats while silent', async () => {
    const name = bufferName()
    const stream = await openEvents(app, name)
    expect(stream.response.headers.get('content-type')).toMatch(/^text\/event-stream/)
    expect(stream.response.headers.get('cache-control')).toBe('no-cache')
    expect(stream.response.headers.get('x-accel-buffering')).toBe('no')
    const first = await stream.nextBlock(1000)
    expect(first).toEqual({ retry: '1500', id: '0-0', comments: [] })
    const heartbeat = await stream.nextBlock(1000)
    expect(heartbeat?.comments).toEqual(['heartbeat'])
    await stream.close()
  })

  it("serves a buffer's first subscriber at once, without waiting out the live reader's block", async () => {
    const [first, second] = [bufferName(), bufferName()]
    const a = await openEvents(app, first)
    // An item for `first` ends the reader's blocking read; it blocks again (2 s) right after delivering it.
    await appendNumbers(app, first, [1])
    expect(datas(await a.events(1))).toEqual([1])
    const b = await openEvents(app, second)
    const started = performance.now()
    await appendNumbers(app, second, [2])
    // Without a wake, `second` would only be read when that block ends, nearly 2 s later.
    expect(datas(await b.events(1))).toEqual([2])
    expect(performance.now() - started).toBeLessThan(1000)
    await Promise.all([a.close(), b.close()])
  })

  it('lets a browser in with its session cookie, and re-sends the cookie with a fresh Max-Age', async () => {
    const name = bufferName()
    const created = await app.request('/sessions', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ grant: await grantToken({ read: [name] }) }),
    })
    const cookie = /^[^;]+/.exec(created.headers.get('set-cookie') ?? '')?.[0] as string
    const url = `${await servedUrl(app)}/buffers/${name}/events`
    const withCookie = await fetch(url, { headers: { Cookie: cookie } })
    expect(withCookie.status).toBe(200)
    expect(withCookie.headers.get('set-cookie')).toMatch(new RegExp(`^${cookie}; Max-Age=86400;`))
    await withCookie.body?.cancel()
    const without = await fetch(url)
    expect(without.status).toBe(401)
    expect(await without.json()).toMatchObject({ error: { code: 'unauthorized' } })
  })

  it('gives a live-only client its starting id up front: dropped before any item, it misses nothing', async () => {
    const name = bufferName()
    await appendNumbers(app, name, [0])
    const quiet = await openEvents(app, name)
    await quiet.nextBlock(1000)
    const resumeFrom = quiet.lastEventId
    await quiet.close()
    await appendNumbers(app, name, [1, 2, 3])
    // What EventSource sends when it reconnects: the last id it saw, here the opening block's.
    const resumed = await openEvents(app, name, { headers: { 'Last-Event-ID': resumeFrom } })
    expect(datas(await resumed.events(3))).toEqual([1, 2, 3])
    await resumed.close()
  })

  it('answers HEAD with the stream headers and no body, without opening a stream', async () => {
    const { port } = new URL(await servedUrl(app))
    const socket = connect(Number(port), '127.0.0.1')
    let raw = ''
    socket.setEncoding('utf8').on('data', (chunk: string) => {
      raw += chunk
    })
    socket.write(
      `HEAD /buffers/${bufferName()}/events HTTP/1.1\r\nHost: x\r\nAuthorization: ${tokenHeaders.Authorization}\r\n\r\n`,
    )
    await new Promise((resolve) => setTimeout(resolve, 300))
    socket.destroy()
    expect(raw).toMatch(/^HTTP\/1\.1 200 OK\r\n/)
    expect(raw).toMatch(/content-type: text\/event-stream/i)
    // Nothing after the head: no retry: block, no second head.
    expect(raw.endsWith('\r\n\r\n')).toBe(true)
    expect(raw.match(/HTTP\/1\.1/g)).toHaveLength(1)
  })

  it("keeps readiness passing while a replica's first subscriber opens the live reader", async () => {
    const { app: fresh } = await buildAppOnTopology(topology)
    const stream = await openEvents(fresh, bufferName())
    const statuses: number[] = []
    for (let probe = 0; probe < 10; probe++) {
      statuses.push((await fresh.request('/readyz')).status)
      await new Promise((resolve) => setTimeout(resolve, 30))
    }
    expect(statuses).toEqual(Array(10).fill(200))
    await stream.close()
  })

  it('follows live: items appended after connecting, with id, event and data', async () => {
    const name = bufferName()
    await appendNumbers(app, name, [0])
    const stream = await openEvents(app, name)
    const res = await app.request(`/buffers/${name}/items`, {
      method: 'POST',
      headers: { ...tokenHeaders, 'Content-Type': 'application/json' },
      body: JSON.stringify({ items: [{ event: 'price', data: { p: 1 } }, { data: 'plain' }] }),
    })
    const { ids } = (await res.json()) as { ids: string[] }
    const events = await stream.events(2)
    expect(events).toEqual([
      { id: ids[0], event: 'price', data: '{"p":1}', comments: [] },
      { id: ids[1], event: 'message', data: '"plain"', comments: [] },
    ])
    await stream.close()
  })

  it('resumes exactly: reconnecting with the 40th id gets 41..100 and newer items, each once, in order', async () => {
    const name = bufferName()
    const ids = await appendNumbers(app, name, range(1, 100))
    const first = await openEvents(app, name, { query: '?from=earliest' })
    const seen = await first.events(40)
    expect(datas(seen)).toEqual(range(1, 40))
    await first.close()

    await appendNumbers(app, name, range(101, 110))
    const resumed = await openEvents(app, name, { headers: { 'Last-Event-ID': seen[39]?.id as string } })
    await appendNumbers(app, name, range(111, 120))
    const rest = await resumed.events(80)
    expect(datas(rest)).toEqual(range(41, 120))
    expect(rest[0]?.id).toBe(ids[40])
    expect(await resumed.quietFor(300)).toBe(true)
    await resumed.close()
  })

  it('accepts ?lastEventId= where a header cannot be sent; the header wins over it', async () => {
    const name = bufferName()
    const ids = await appendNumbers(app, name, range(1, 5))
    const byQuery = await openEvents(app, name, { query: `?lastEventId=${ids[2]}` })
    expect(datas(await byQuery.events(2))).toEqual([4, 5])
    await byQuery.close()
    const both = await openEvents(app, name, {
      query: `?lastEventId=${ids[0]}&from=earliest`,
      headers: { 'Last-Event-ID': ids[3] as string },
    })
    expect(datas(await both.events(1))).toEqual([5])
    await both.close()
  })

  it('resets with reason trimmed when items after the id were trimmed, then replays the oldest retained', async () => {
    const { app: small } = await buildAppOnTopology(topology, { BUFFER_MAX_LEN: '10' })
    const name = bufferName()
    const ids = await appendNumbers(small, name, range(1, 25))
    const stream = await openEvents(small, name, { headers: { 'Last-Event-ID': ids[4] as string } })
    const [reset, ...items] = await stream.events(11)
    expect(reset).toEqual({
      event: 'reset',
      data: JSON.stringify({ reason: 'trimmed', oldestId: ids[15] }),
      comments: [],
    })
    expect(datas(items)).toEqual(range(16, 25))
    await stream.close()
  })

  it('does not reset when trimming removed only items the client already has', async () => {
    const { app: small } = await buildAppOnTopology(topology, { BUFFER_MAX_LEN: '10' })
    const name = bufferName()
    const ids = await appendNumbers(small, name, range(1, 20))
    // Items 1..10 are trimmed; the newest of them (10) is exactly what this client saw last.
    const stream = await openEvents(small, name, { headers: { 'Last-Event-ID': ids[9] as string } })
    expect(datas(await stream.events(10))).toEqual(range(11, 20))
    await stream.close()
    // One older than that: item 10 is gone, so that client gets a reset.
    const behind = await openEvents(small, name, { headers: { 'Last-Event-ID': ids[8] as string } })
    expect((await behind.events(1))[0]?.event).toBe('reset')
    await behind.close()
  })

  it('0-0 means everything: no reset unless something was trimmed', async () => {
    const { app: small } = await buildAppOnTopology(topology, { BUFFER_MAX_LEN: '3' })
    const name = bufferName()
    await appendNumbers(small, name, [1, 2, 3])
    const whole = await openEvents(small, name, { headers: { 'Last-Event-ID': '0-0' } })
    expect(datas(await whole.events(3))).toEqual([1, 2, 3])
    await whole.close()
    await appendNumbers(small, name, [4])
    const trimmed = await openEvents(small, name, { headers: { 'Last-Event-ID': '0-0' } })
    const [reset, ...items] = await trimmed.events(4)
    expect(JSON.parse(reset?.data as string)).toMatchObject({ reason: 'trimmed' })
    expect(datas(items)).toEqual([2, 3, 4])
    await trimmed.close()
  })

  it('resets with reason deleted for an id issued before the buffer was deleted and recreated', async () => {
    const name = bufferName()
    const old = await appendNumbers(app, name, range(1, 5))
    expect((await app.request(`/buffers/${name}`, { method: 'DELETE', headers: tokenHeaders })).status).toBe(
      204,
    )
    const fresh = await appendNumbers(app, name, [6, 7])
    const stream = await openEvents(app, name, { headers: { 'Last-Event-ID': old[4] as string } })
    const [reset, ...items] = await stream.events(3)
    expect(reset).toMatchObject({
      event: 'reset',
      data: JSON.stringify({ reason: 'deleted', oldestId: fresh[0] }),
    })
    expect(reset?.id).toBeUndefined()
    expect(datas(items)).toEqual([6, 7])
    // A live follower of the old buffer is told as well, and carries on with the new one.
    const live = await openEvents(app, name)
    await app.request(`/buffers/${name}`, { method: 'DELETE', headers: tokenHeaders })
    await appendNumbers(app, name, [8])
    const [liveReset, item] = await live.events(2)
    expect(JSON.parse(liveReset?.data as string)).toMatchObject({ reason: 'deleted' })
    expect(datas([item as SseBlock])).toEqual([8])
    await Promise.all([stream.close(), live.close()])
  })

  it('a deleted buffer that is not recreated: reset deleted with oldestId null, then live', async () => {
    const name = bufferName()
    const old = await appendNumbers(app, name, [1])
    await app.request(`/buffers/${name}`, { method: 'DELETE', headers: tokenHeaders })
    const stream = await openEvents(app, name, { headers: { 'Last-Event-ID': old[0] as string } })
    const [reset] = await stream.events(1)
    expect(reset?.data).toBe(JSON.stringify({ reason: 'deleted', oldestId: null }))
    await appendNumbers(app, name, [2])
    expect(datas(await stream.events(1))).toEqual([2])
    await stream.close()
  })

  it('resets with reason ahead for an id newer than anything the buffer held', async () => {
    const name = bufferName()
    const ids = await appendNumbers(app, name, [1, 2])
    const stream = await openEvents(app, name, { headers: { 'Last-Event-ID': '99999999999999-0' } })
    const [reset, ...items] = await stream.events(3)
    expect(reset?.data).toBe(JSON.stringify({ reason: 'ahead', oldestId: ids[0] }))
    expect(datas(items)).toEqual([1, 2])
    await stream.close()
  })

  it.each([
    ['header', { 'Last-Event-ID': 'abc' }, ''],
    ['header without sequence', { 'Last-Event-ID': '1700000000000' }, ''],
    ['header beyond 64 bits', { 'Last-Event-ID': '18446744073709551616-0' }, ''],
    ['query', {}, '?lastEventId=1-2-3'],
  ])('answers a malformed Last-Event-ID (%s) with 400 JSON before any stream', async (_, headers, query) => {
    const res = await app.request(`/buffers/${bufferName()}/events${query}`, {
      headers: { ...tokenHeaders, ...headers },
    })
    expect(res.status).toBe(400)
    expect(await res.json()).toMatchObject({ error: { code: 'invalid_id' } })
  })

  it('answers an unknown ?from= with 400', async () => {
    const res = await app.request(`/buffers/${bufferName()}/events?from=latest`, { headers: tokenHeaders })
    expect(res.status).toBe(400)
    expect(await res.json()).toMatchObject({ error: { code: 'invalid_from' } })
  })

  it('two apps on one Redis: appended through A, received live through B', async () => {
    const { app: other } = await buildAppOnTopology(topology)
    const name = bufferName()
    const stream = await openEvents(other, name)
    await appendNumbers(app, name, range(1, 30))
    expect(datas(await stream.events(30))).toEqual(range(1, 30))
    await stream.close()
  })

  it("counts this replica's subscribers in GET /buffers/:name, and forgets those that left", async () => {
    const name = bufferName()
    await appendNumbers(app, name, [1])
    const streams = await Promise.all([openEvents(app, name), openEvents(app, name)])
    const info = async () =>
      (await (await app.request(`/buffers/${name}`, { headers: tokenHeaders })).json()) as {
        subscribers: number
      }
    expect((await info()).subscribers).toBe(2)
    await Promise.all(streams.map((stream) => stream.close()))
    await expect.poll(async () => (await info()).subscribers).toBe(0)
  })
})
