import { describe, expect, it } from 'vitest'
import { keys } from '../../../src/redis/keys.js'
import { sessionKey } from '../../../src/sessions/ids.js'
import { appendNumbers, bufferName, range, tokenHeaders } from '../../support/buffers.js'
import { grantToken } from '../../support/grants.js'
import { buildAppOnTopology, type KeyedTestCommands, SUITE_TOPOLOGIES } from '../../support/topology.js'

const json = { 'Content-Type': 'application/json' }

interface ItemsPage {
  items: { id: string; event: string; data: unknown; time: string }[]
  next: string | null
  reset?: true
  reason?: string
}

/** The stream's entries as Redis holds them. */
async function storedEntries(client: KeyedTestCommands, name: string) {
  return (await client.xRange(keys.bufferItems(name), '-', '+')) ?? []
}

describe.each(SUITE_TOPOLOGIES)('buffers on %s', async (topology) => {
  const { app, client } = await buildAppOnTopology(topology, { BODY_LIMIT_BYTES: String(200 * 1024) })
  const post = (name: string, body: unknown, headers: Record<string, string> = tokenHeaders) =>
    app.request(`/buffers/${name}/items`, {
      method: 'POST',
      headers: { ...headers, ...json },
      body: JSON.stringify(body),
    })
  const page = async (name: string, query = '') => {
    const res = await app.request(`/buffers/${name}/items${query}`, { headers: tokenHeaders })
    expect(res.status).toBe(200)
    return (await res.json()) as ItemsPage
  }

  describe('auth and names on every route', () => {
    const routes: [string, string, RequestInit?][] = [
      ['POST', '/items', { headers: json, body: '{"data":1}' }],
      ['GET', '/items'],
      ['GET', ''],
      ['DELETE', ''],
      ['GET', '/events'],
    ]

    it.each(routes)(
      '%s /buffers/:name%s: 401 without credentials, 401 with a wrong token',
      async (method, suffix, init) => {
        const path = `/buffers/${bufferName()}${suffix}`
        for (const authorization of [undefined, 'Bearer wrong-token-wrong-token-wrong-token', 'Basic abc']) {
          const headers = {
            ...(init?.headers as Record<string, string>),
            ...(authorization && { Authorization: authorization }),
          }
          const res = await app.request(path, { ...init, method, headers })
          expect(res.status).toBe(401)
          expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/)
          expect(await res.json()).toMatchObject({ error: { code: 'unauthorized' } })
        }
      },
    )

    it.each(routes)(
      '%s /buffers/:name%s: 400 for a name outside the pattern',
      async (method, suffix, init) => {
        for (const name of ['-starts-with-dash', 'has%20space', 'a'.repeat(129), 'br%7Bace%7D', '%2Fslash']) {
          const res = await app.request(`/buffers/${name}${suffix}`, {
            ...init,
            method,
            headers: { ...(init?.headers as Record<string, string>), ...tokenHeaders },
          })
          expect(res.status, name).toBe(400)
          expect(await res.json()).toMatchObject({ error: { code: 'invalid_buffer_name' } })
        }
      },
    )

    it('append and delete need a token: a session is not enough, even with a write grant', async () => {
      const name = bufferName()
      const grant = await grantToken({ read: [name], write: [name] })
      const created = await app.request('/sessions', {
        method: 'POST',
        headers: json,
        body: JSON.stringify({ grant }),
      })
      const cookie = /^[^;]+/.exec(created.headers.get('set-cookie') ?? '')?.[0] as string
      expect((await post(name, { data: 1 }, { Cookie: cookie })).status).toBe(401)
      expect(
        (await app.request(`/buffers/${name}`, { method: 'DELETE', headers: { Cookie: cookie } })).status,
      ).toBe(401)
      // ...but reading accepts the session, as far as its grant goes.
      await appendNumbers(app, name, [1])
      const read = await app.request(`/buffers/${name}/items`, { headers: { Cookie: cookie } })
      expect(read.status).toBe(200)
      expect(read.headers.get('set-cookie')).toMatch(/Max-Age=/)
    })

    it('every accepted token works (rotation)', async () => {
      const second = 'second-api-token-0123456789abcdefghijklmno'
      const { app: rotating } = await buildAppOnTopology(topology, {
        API_TOKEN: `first-api-token-0123456789abcdefghijklmnop,${second}`,
      })
      const res = await rotating.request(`/buffers/${bufferName()}/items`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${second}`, ...json },
        body: '{"data":1}',
      })
      expect(res.status).toBe(201)
    })

    it('keeps buffer keys apart from sessions: a buffer named after a session key cannot touch it', async () => {
      const created = await app.request('/sessions', { method: 'POST' })
      const { id } = (await created.json()) as { id: string }
      const cookie = /^[^;]+/.exec(created.headers.get('set-cookie') ?? '')?.[0] as string
      for (const name of [`session:${id}`, `hrs:session:${id}`]) {
        expect((await post(name, { data: 1 })).status).toBe(201)
        expect(
          (await app.request(`/buffers/${name}`, { method: 'DELETE', headers: tokenHeaders })).status,
        ).toBe(204)
      }
      expect(await client.type(sessionKey(id))).toBe('string')
      expect((await app.request('/sessions/current', { headers: { Cookie: cookie } })).status).toBe(200)
    })
  })

  describe('POST /buffers/:name/items', () => {
    it('appends one item (event defaults to message) and answers 201 with its id once stored', async () => {
      const name = bufferName()
      const res = await post(name, { data: { a: [1, 'two', null] } })
      expect(res.status).toBe(201)
      const { ids } = (await res.json()) as { ids: string[] }
      expect(ids).toHaveLength(1)
      expect(ids[0]).toMatch(/^\d+-\d+$/)
      const stored = await storedEntries(client, name)
      expect(stored.map((entry) => entry.id)).toEqual(ids)
      const { items } = await page(name)
      expect(items).toEqual([
        { id: ids[0], event: 'message', data: { a: [1, 'two', null] }, time: expect.any(String) },
      ])
      expect(Math.abs(Date.parse(items[0]?.time as string) - Date.now())).toBeLessThan(60_000)
    })

    it('accepts null, strings and numbers as data, and a named event', async () => {
      const name = bufferName()
      const res = await post(name, {
        items: [{ data: null }, { data: 's' }, { event: 'a.b:c-d_e', data: 3 }],
      })
      expect(res.status).toBe(201)
      const { items } = await page(name)
      expect(items.map(({ event, data }) => ({ event, data }))).toEqual([
        { event: 'message', data: null },
        { event: 'message', data: 's' },
        { event: 'a.b:c-d_e', data: 3 },
      ])
    })

    it.each([
      ['no data', { event: 'x' }, /^data: is required/],
      ['an empty body', {}, /^data: is required/],
      ['unknown field', { data: 1, extra: true }, /extra/],
      ['bad event', { event: 'has space', data: 1 }, /^event: must match/],
      ['event too long', { event: 'e'.repeat(65), data: 1 }, /^event: must match/],
      ["the stream's own reset event", { event: 'reset', data: 1 }, /^event: must not be reset/],
      ["the stream's own revoked event", { event: 'revoked', data: 1 }, /^event: must not be/],
      ["EventSource's error event (it runs onerror)", { event: 'error', data: 1 }, /^event: must not be/],
      ["EventSource's open event", { event: 'open', data: 1 }, /^event: must not be/],
      [
        'a reserved event in a batch',
        { items: [{ data: 1 }, { event: 'revoked', data: 2 }] },
        /^items\.1\.event/,
      ],
      ['empty batch', { items: [] }, /^items: must hold at least one item/],
      ['items that are not a list', { items: 'x' }, /^items: /],
      ['batch with a bad item', { items: [{ data: 1 }, { nodata: 1 }] }, /^items\.1/],
      ['batch mixed with an item', { items: [{ data: 1 }], data: 2 }, /data/],
      ['not an object', [1, 2], /./],
    ])('rejects %s with 400 naming the field, and stores nothing', async (_, body, message) => {
      const name = bufferName()
      const res = await post(name, body)
      expect(res.status).toBe(400)
      expect(await res.json()).toMatchObject({
        error: { code: 'invalid_body', message: expect.stringMatching(message) },
      })
      expect(await client.exists(keys.bufferItems(name))).toBe(0)
    })

    it('rejects malformed JSON with 400 and a non-JSON body with 415', async () => {
      const name = bufferName()
      const malformed = await app.request(`/buffers/${name}/items`, {
        method: 'POST',
        headers: { ...tokenHeaders, ...json },
        body: '{"data":',
      })
      expect(malformed.status).toBe(400)
      const text = await app.request(`/buffers/${name}/items`, {
        method: 'POST',
        headers: { ...tokenHeaders, 'Content-Type': 'text/plain' },
        body: '{"data":1}',
      })
      expect(text.status).toBe(415)
    })

    it('rejects data nested deeper than 64 levels with 400, however deep', async () => {
      const name = bufferName('deep')
      for (const depth of [65, 5000, 50_000]) {
        const res = await app.request(`/buffers/${name}/items`, {
          method: 'POST',
          headers: { ...tokenHeaders, ...json },
          body: `{"data":${'['.repeat(depth)}${']'.repeat(depth)}}`,
        })
        expect(res.status, String(depth)).toBe(400)
        expect(await res.json()).toMatchObject({ error: { code: 'invalid_body', message: /nested deeper/ } })
      }
      expect((await post(name, { data: JSON.parse(`${'['.repeat(63)}${']'.repeat(63)}`) })).status).toBe(201)
    })

    it('a batch is all or nothing: one oversized item stores none of the batch (413)', async () => {
      const name = bufferName()
      const big = 'x'.repeat(64 * 1024)
      const res = await post(name, { items: [{ data: 1 }, { data: big }, { data: 3 }] })
      expect(res.status).toBe(413)
      expect(await res.json()).toMatchObject({
        error: { code: 'item_too_large', message: expect.stringContaining('items.1') },
      })
      expect(await client.exists(keys.bufferItems(name))).toBe(0)
      // Exactly 64 KiB of JSON is allowed.
      expect((await post(name, { data: 'x'.repeat(64 * 1024 - 2) })).status).toBe(201)
    })

    it('a batch of 1000 is stored in order with consecutive ids; 1001 is refused', async () => {
      const name = bufferName()
      const ids = await appendNumbers(app, name, range(1, 1000))
      expect(new Set(ids).size).toBe(1000)
      const stored = await storedEntries(client, name)
      expect(stored.map((entry) => entry.id)).toEqual(ids)
      expect(stored.map((entry) => Number(entry.message.d))).toEqual(range(1, 1000))
      const tooMany = await post(name, { items: range(1, 1001).map((n) => ({ data: n })) })
      expect(tooMany.status).toBe(400)
    })

    it('concurrent batches never interleave', async () => {
      const name = bufferName()
      const batches = await Promise.all(
        range(0, 9).map((b) => appendNumbers(app, name, range(b * 100 + 1, b * 100 + 100))),
      )
      const stored = (await storedEntries(client, name)).map((entry) => entry.id)
      for (const ids of batches) {
        const start = stored.indexOf(ids[0] as string)
        expect(stored.slice(start, start + 100)).toEqual(ids)
      }
    })

    it('answers 413 when the body exceeds BODY_LIMIT_BYTES', async () => {
      const res = await post(bufferName(), {
        items: range(1, 4).map(() => ({ data: 'y'.repeat(60 * 1024) })),
      })
      expect(res.status).toBe(413)
      expect(await res.json()).toMatchObject({ error: { code: 'payload_too_large' } })
    })
  })

  describe('GET /buffers/:name/items', () => {
    it('pages with after and limit; next is the last id, then the after itself when nothing is newer', async () => {
      const name = bufferName()
      const ids = await appendNumbers(app, name, range(1, 5))
      const first = await page(name, '?limit=2')
      expect(first.items.map((item) => item.data)).toEqual([1, 2])
      expect(first.next).toBe(ids[1])
      const second = await page(name, `?after=${first.next}&limit=10`)
      expect(second.items.map((item) => item.data)).toEqual([3, 4, 5])
      expect(second.next).toBe(ids[4])
      const idle = await page(name, `?after=${second.next}`)
      expect(idle).toEqual({ items: [], next: ids[4] })
    })

    it('a missing buffer reads as empty, with next null', async () => {
      expect(await page(bufferName())).toEqual({ items: [], next: null })
    })

    it('follows the reset rule: trimmed past after gives reset true from the oldest retained', async () => {
      const { app: small } = await buildAppOnTopology(topology, { BUFFER_MAX_LEN: '3' })
      const name = bufferName()
      const ids = await appendNumbers(small, name, range(1, 6))
      const res = await small.request(`/buffers/${name}/items?after=${ids[0]}`, { headers: tokenHeaders })
      const body = (await res.json()) as ItemsPage
      expect(body).toMatchObject({ reset: true, reason: 'trimmed', next: ids[5] })
      expect(body.items.map((item) => item.data)).toEqual([4, 5, 6])
      const deleted = await small.request(`/buffers/${name}`, { method: 'DELETE', headers: tokenHeaders })
      expect(deleted.status).toBe(204)
      const gone = (await (
        await small.request(`/buffers/${name}/items?after=${ids[5]}`, { headers: tokenHeaders })
      ).json()) as ItemsPage
      expect(gone).toEqual({ items: [], next: null, reset: true, reason: 'deleted' })
    })

    it.each(['?after=abc', '?after=1-', '?limit=0', '?limit=1001', '?limit=ten', '?limit=1.5'])(
      'answers %s with 400',
      async (query) => {
        const res = await app.request(`/buffers/${bufferName()}/items${query}`, { headers: tokenHeaders })
        expect(res.status).toBe(400)
        const code = query.startsWith('?after') ? 'invalid_id' : 'invalid_limit'
        expect(await res.json()).toMatchObject({ error: { code } })
      },
    )
  })

  describe('GET and DELETE /buffers/:name', () => {
    it('describes a buffer; 404 once deleted; DELETE is 204 either way', async () => {
      const name = bufferName()
      const ids = await appendNumbers(app, name, [1, 2, 3])
      const res = await app.request(`/buffers/${name}`, { headers: tokenHeaders })
      expect(await res.json()).toEqual({ name, length: 3, firstId: ids[0], lastId: ids[2], subscribers: 0 })
      expect(
        (await app.request(`/buffers/${name}`, { method: 'DELETE', headers: tokenHeaders })).status,
      ).toBe(204)
      const gone = await app.request(`/buffers/${name}`, { headers: tokenHeaders })
      expect(gone.status).toBe(404)
      expect(await gone.json()).toMatchObject({ error: { code: 'buffer_not_found' } })
      expect(
        (await app.request(`/buffers/${name}`, { method: 'DELETE', headers: tokenHeaders })).status,
      ).toBe(204)
    })

    it("a recreated buffer's ids sort after the deleted one's even when Redis's clock is behind them", async () => {
      const name = bufferName()
      await appendNumbers(app, name, [1])
      await app.request(`/buffers/${name}`, { method: 'DELETE', headers: tokenHeaders })
      // As if the deleted buffer had issued ids an hour ahead of this clock (a failover to a slower one).
      const ahead = Date.now() + 3_600_000
      await client.hSet(keys.bufferMeta(name), 'deleted', `${ahead}-5`)
      expect(await appendNumbers(app, name, [2, 3])).toEqual([`${ahead}-6`, `${ahead}-7`])
    })

    it('a recreated buffer issues ids after every id of the deleted one', async () => {
      const name = bufferName()
      const old = await appendNumbers(app, name, range(1, 50))
      await app.request(`/buffers/${name}`, { method: 'DELETE', headers: tokenHeaders })
      const fresh = await appendNumbers(app, name, [51])
      const [oldMs, oldSeq] = (old[49] as string).split('-').map(BigInt) as [bigint, bigint]
      const [newMs, newSeq] = (fresh[0] as string).split('-').map(BigInt) as [bigint, bigint]
      expect(newMs > oldMs || (newMs === oldMs && newSeq > oldSeq)).toBe(true)
    })
  })
})
