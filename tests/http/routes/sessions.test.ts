import { describe, expect, it } from 'vitest'
import { keys } from '../../../src/redis/keys.js'
import { SessionCookieSigner } from '../../../src/sessions/cookie.js'
import { sessionKey } from '../../../src/sessions/ids.js'
import { TEST_SESSION_SECRET } from '../../support/env.js'
import { grantToken } from '../../support/grants.js'
import { buildAppOnTopology, SUITE_TOPOLOGIES } from '../../support/topology.js'

/** The `name=value` part of the response's sid Set-Cookie, to send back as a Cookie header. */
function sidCookie(res: Response): string {
  const header = res.headers.get('set-cookie') ?? ''
  const match = /(?:^|,\s*)(sid=[^;]*)/.exec(header)
  if (!match?.[1]) throw new Error(`no sid cookie in ${header}`)
  return match[1]
}

async function dataOf(res: Response): Promise<unknown> {
  return ((await res.json()) as { data: unknown }).data
}

const withCookie = (cookie: string, init: RequestInit = {}): RequestInit => ({
  ...init,
  headers: { ...(init.headers as Record<string, string>), Cookie: cookie },
})

describe.each(SUITE_TOPOLOGIES)('sessions on %s', async (topology) => {
  const { app, client } = await buildAppOnTopology(topology)

  /** POST /sessions with `body` as JSON text. */
  const postSessions = (body: string) =>
    app.request('/sessions', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body })

  async function createSession(data?: unknown) {
    const res = await postSessions(JSON.stringify(data === undefined ? {} : { data }))
    expect(res.status).toBe(201)
    const body = (await res.json()) as { id: string; data: Record<string, unknown>; expiresAt: string }
    return { res, body, cookie: sidCookie(res) }
  }

  const patch = (cookie: string, data: unknown) =>
    app.request(
      '/sessions/current',
      withCookie(cookie, {
        method: 'PATCH',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ data }),
      }),
    )

  describe('POST /sessions', () => {
    it('creates a session in Redis, with a TTL, and returns its id, data and expiry', async () => {
      const before = Date.now()
      const { body, res } = await createSession({ user: 'ada', roles: ['admin'], n: 9007199254740991 })
      expect(body.id).toMatch(/^[A-Za-z0-9_-]{36}$/)
      expect(body.data).toEqual({ user: 'ada', roles: ['admin'], n: 9007199254740991 })
      const expiresAt = Date.parse(body.expiresAt)
      expect(expiresAt).toBeGreaterThanOrEqual(before + 86_400_000)
      expect(expiresAt).toBeLessThan(Date.now() + 86_400_000 + 1000)
      expect(await client.ttl(sessionKey(body.id))).toBeGreaterThan(86_300)
      expect(res.headers.get('set-cookie')).not.toContain(`sid=${body.id};`)
    })

    it('sets an HttpOnly, SameSite=Lax, Path=/ cookie with Max-Age = TTL, without Secure outside production', async () => {
      const { res } = await createSession()
      const cookie = res.headers.get('set-cookie') ?? ''
      expect(cookie).toMatch(/^sid=[A-Za-z0-9_-]{36}\.[A-Za-z0-9_-]{43};/)
      expect(cookie).toContain('Max-Age=86400')
      expect(cookie).toContain('HttpOnly')
      expect(cookie).toContain('SameSite=Lax')
      expect(cookie).toContain('Path=/')
      expect(cookie).not.toContain('Secure')
    })

    it('keeps empty data: an empty session still exists', async () => {
      const res = await app.request('/sessions', { method: 'POST' })
      expect(res.status).toBe(201)
      const read = await app.request('/sessions/current', withCookie(sidCookie(res)))
      expect(read.status).toBe(200)
      expect(await read.json()).toMatchObject({ data: {} })
    })

    it.each([
      ['an array', '[1,2]'],
      ['a string', '"hello"'],
      ['data that is not an object', '{"data":[1]}'],
      ['an unknown field', '{"data":{},"extra":1}'],
    ])('rejects %s with 400 JSON', async (_, body) => {
      const res = await postSessions(body)
      expect(res.status).toBe(400)
      expect(await res.json()).toMatchObject({ error: { code: 'invalid_body' } })
    })

    it('rejects invalid JSON with 400 JSON', async () => {
      const res = await postSessions('{"data": {')
      expect(res.status).toBe(400)
      expect(await res.json()).toMatchObject({ error: { code: 'bad_request' } })
    })

    it('rejects a body that is not JSON with 415 JSON', async () => {
      const res = await app.request('/sessions', {
        method: 'POST',
        headers: { 'Content-Type': 'text/plain' },
        body: 'x',
      })
      expect(res.status).toBe(415)
      expect(await res.json()).toMatchObject({ error: { code: 'unsupported_media_type' } })
    })

    it('rejects data over 4 KiB of UTF-8 JSON with 413, counting bytes not characters', async () => {
      // {"k":"..."} is 8 bytes of syntax; 'é' is 2 bytes in UTF-8.
      const fits = await postSessions(JSON.stringify({ data: { k: 'é'.repeat(2044) } }))
      expect(fits.status).toBe(201)
      const over = await postSessions(JSON.stringify({ data: { k: `${'é'.repeat(2044)}x` } }))
      expect(over.status).toBe(413)
      expect(await over.json()).toMatchObject({ error: { code: 'session_data_too_large' } })
    })
  })

  describe('POST /sessions over a live session', () => {
    it('ends the session the cookie named, announcing it on the revocation stream, and issues a new one', async () => {
      const { body: old, cookie } = await createSession({ a: 1 })
      const res = await app.request(
        '/sessions',
        withCookie(cookie, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: '{"data":{"b":2}}',
        }),
      )
      expect(res.status).toBe(201)
      const fresh = (await res.json()) as { id: string; data: unknown }
      expect(fresh.id).not.toBe(old.id)
      // The body's data, not the old session's.
      expect(fresh.data).toEqual({ b: 2 })
      expect(await client.exists(sessionKey(old.id))).toBe(0)
      // store.end's announcement, which ends the old session's streams on every replica.
      const recent = await client.xRevRange(keys.revokedSessions(), '+', '-', { COUNT: 100 })
      expect((recent ?? []).some((entry) => entry.message.s === old.id)).toBe(true)
      expect((await app.request('/sessions/current', withCookie(cookie))).status).toBe(401)
      expect((await app.request('/sessions/current', withCookie(sidCookie(res)))).status).toBe(200)
    })

    it('just creates when the cookie names a session that is gone', async () => {
      const { cookie } = await createSession()
      expect((await app.request('/sessions/current', withCookie(cookie, { method: 'DELETE' }))).status).toBe(
        204,
      )
      const res = await app.request('/sessions', withCookie(cookie, { method: 'POST' }))
      expect(res.status).toBe(201)
      expect((await app.request('/sessions/current', withCookie(sidCookie(res)))).status).toBe(200)
    })
  })

  describe('GET /sessions/current', () => {
    it('returns the session and re-sends the cookie with a fresh Max-Age', async () => {
      const { body, cookie } = await createSession({ user: 'ada' })
      const res = await app.request('/sessions/current', withCookie(cookie))
      expect(res.status).toBe(200)
      expect(await res.json()).toEqual({ id: body.id, data: { user: 'ada' }, expiresAt: expect.any(String) })
      expect(res.headers.get('set-cookie')).toContain('Max-Age=86400')
      expect(sidCookie(res)).toBe(cookie)
    })

    it('slides the TTL: a read resets it to the full TTL', async () => {
      const { body, cookie } = await createSession()
      await client.expire(sessionKey(body.id), 100)
      expect(await client.ttl(sessionKey(body.id))).toBeLessThanOrEqual(100)
      await app.request('/sessions/current', withCookie(cookie))
      expect(await client.ttl(sessionKey(body.id))).toBeGreaterThan(86_300)
    })

    it("never reads a hash an earlier build left at the old key: 401, not Redis's WRONGTYPE", async () => {
      const { body, cookie } = await createSession({ a: 1 })
      await client.del(sessionKey(body.id))
      await client.hSet(`hrs:session:${body.id}`, { '@': '1', '"a"': '1' })
      expect((await app.request('/sessions/current', withCookie(cookie))).status).toBe(401)
      expect((await patch(cookie, { b: 2 })).status).toBe(401)
      expect(
        (await app.request('/sessions/current/rotate', withCookie(cookie, { method: 'POST' }))).status,
      ).toBe(401)
    })

    it('finds the valid cookie among several of its name, in either order: a stale or planted one hides nothing', async () => {
      const { body, cookie } = await createSession({ user: 'ada' })
      const stale = `sid=${new SessionCookieSigner(['another-secret-that-is-long-enough-000000']).sign(body.id)}`
      for (const header of [
        `sid=junk; ${cookie}`,
        `${cookie}; sid=junk`,
        `${stale}; theme=dark; ${cookie}`,
      ]) {
        const res = await app.request('/sessions/current', withCookie(header))
        expect(res.status, header).toBe(200)
        expect(((await res.json()) as { id: string }).id).toBe(body.id)
      }
    })

    it('gives 401 for an expired session', async () => {
      const { body, cookie } = await createSession()
      await client.del(sessionKey(body.id))
      const res = await app.request('/sessions/current', withCookie(cookie))
      expect(res.status).toBe(401)
      expect(await res.json()).toMatchObject({ error: { code: 'unauthorized' } })
    })

    it.each([
      ['no cookie', ''],
      ['an empty cookie', 'sid='],
      ['garbage', 'sid=%%%not-a-cookie'],
      ['an unsigned id', 'sid=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'],
      ['a tampered id', 'TAMPER'],
      ['a tampered signature', 'TAMPER_SIG'],
      ['an oversized cookie', `sid=${'a'.repeat(8000)}`],
      ['a cookie signed with another secret', 'OTHER_SECRET'],
    ])('gives 401 JSON, never a 500, for %s', async (_, raw) => {
      const { cookie } = await createSession()
      const value = cookie.slice('sid='.length)
      const [id = '', sig = ''] = value.split('.')
      const cookies: Record<string, string> = {
        TAMPER: `sid=${id.slice(0, -1)}${id.endsWith('A') ? 'B' : 'A'}.${sig}`,
        TAMPER_SIG: `sid=${id}.${sig.slice(0, -2)}${sig.endsWith('AA') ? 'BB' : 'AA'}`,
        OTHER_SECRET: `sid=${new SessionCookieSigner(['another-secret-that-is-long-enough-000000']).sign(id)}`,
      }
      const res = await app.request('/sessions/current', raw ? withCookie(cookies[raw] ?? raw) : {})
      expect(res.status).toBe(401)
      expect(await res.json()).toMatchObject({ error: { code: 'unauthorized' } })
    })
  })

  describe('PATCH /sessions/current', () => {
    it('shallow-merges, removes keys set to null, and returns the new state', async () => {
      const { cookie } = await createSession({ a: 1, b: { deep: true }, c: 'gone' })
      const res = await patch(cookie, { b: { other: [] }, c: null, d: 'new' })
      expect(res.status).toBe(200)
      expect(await dataOf(res)).toEqual({ a: 1, b: { other: [] }, d: 'new' })
      const read = await app.request('/sessions/current', withCookie(cookie))
      expect(await dataOf(read)).toEqual({ a: 1, b: { other: [] }, d: 'new' })
    })

    it('merges stored JSON text without decoding it: awkward keys and values survive exactly', async () => {
      const awkward = {
        'quote"and\\backslash': 'a "quoted", {braced} [bracketed] value: with \\ and \n',
        '}{': [[], {}, [{ ',': ':' }], '"]'],
        'ünïcödé 🎉': 'ünïcödé 🎉',
        big: 1.2345678901234567e300,
        tiny: -1.5e-300,
        flags: [true, false, null],
        empty: '',
      }
      const { cookie } = await createSession(awkward)
      const res = await patch(cookie, {
        empty: null,
        '}{': 'replaced',
        added: { nested: [1, '2', { three: 3 }] },
      })
      expect(res.status).toBe(200)
      const { empty: _, ...kept } = awkward
      const expected = { ...kept, '}{': 'replaced', added: { nested: [1, '2', { three: 3 }] } }
      expect(await dataOf(res)).toEqual(expected)
      const read = await dataOf(await app.request('/sessions/current', withCookie(cookie)))
      expect(read).toEqual(expected)
      expect(Object.keys(read as object)).toEqual(Object.keys(expected))
    })

    it('keeps every one of 50 concurrent patches that touch different keys', async () => {
      const { cookie } = await createSession()
      const responses = await Promise.all(
        Array.from({ length: 50 }, (_, i) => patch(cookie, { [`key${i}`]: i })),
      )
      expect(responses.map((res) => res.status)).toEqual(Array(50).fill(200))
      const read = await app.request('/sessions/current', withCookie(cookie))
      const { data } = (await read.json()) as { data: Record<string, number> }
      expect(Object.keys(data)).toHaveLength(50)
      for (let i = 0; i < 50; i++) expect(data[`key${i}`]).toBe(i)
    })

    it('gives 413 when the merged data would exceed 4 KiB, and changes nothing', async () => {
      const { cookie } = await createSession({ a: 'x'.repeat(3000) })
      const res = await patch(cookie, { b: 'y'.repeat(1100) })
      expect(res.status).toBe(413)
      expect(await res.json()).toMatchObject({ error: { code: 'session_data_too_large' } })
      const read = await app.request('/sessions/current', withCookie(cookie))
      expect(await dataOf(read)).toEqual({ a: 'x'.repeat(3000) })
    })

    it('counts the merged size exactly: 4096 bytes fit, 4097 do not', async () => {
      // {"a":"<n x>"} is n + 8 bytes.
      const { cookie } = await createSession({ a: '' })
      expect((await patch(cookie, { a: 'x'.repeat(4088) })).status).toBe(200)
      expect((await patch(cookie, { a: 'x'.repeat(4089) })).status).toBe(413)
    })

    it('rejects a body that is not an object with 400, and a missing session with 401', async () => {
      const { cookie } = await createSession()
      expect((await patch(cookie, [1])).status).toBe(400)
      expect((await patch('sid=nope', { a: 1 })).status).toBe(401)
    })
  })

  describe('POST /sessions/current/rotate', () => {
    it('moves the data to a new id: the old cookie is 401 at once, the new one works', async () => {
      const { body, cookie } = await createSession({ user: 'ada' })
      const res = await app.request('/sessions/current/rotate', withCookie(cookie, { method: 'POST' }))
      expect(res.status).toBe(200)
      const rotated = (await res.json()) as { id: string; data: unknown }
      expect(rotated.id).not.toBe(body.id)
      expect(rotated.data).toEqual({ user: 'ada' })
      const newCookie = sidCookie(res)
      expect(newCookie).not.toBe(cookie)
      expect((await app.request('/sessions/current', withCookie(cookie))).status).toBe(401)
      expect((await app.request('/sessions/current', withCookie(newCookie))).status).toBe(200)
      expect(await client.ttl(sessionKey(rotated.id))).toBeGreaterThan(86_300)
    })
  })

  describe('DELETE /sessions/current', () => {
    it('deletes the key, clears the cookie, and the old cookie is 401 afterwards', async () => {
      const { body, cookie } = await createSession()
      const res = await app.request('/sessions/current', withCookie(cookie, { method: 'DELETE' }))
      expect(res.status).toBe(204)
      expect(res.headers.get('set-cookie')).toMatch(/^sid=;.*Max-Age=0/)
      expect(await client.exists(sessionKey(body.id))).toBe(0)
      expect((await app.request('/sessions/current', withCookie(cookie))).status).toBe(401)
    })

    it('gives 401 without a live session, and still clears the cookie', async () => {
      const res = await app.request('/sessions/current', { method: 'DELETE' })
      expect(res.status).toBe(401)
      expect(res.headers.get('set-cookie')).toMatch(/^sid=;.*Max-Age=0/)
    })
  })

  describe('secret rotation', () => {
    it('verifies a cookie signed with the old secret and signs new cookies with the new one', async () => {
      const newSecret = 'the-new-session-secret-0123456789abcdef'
      const rotatedApp = (
        await buildAppOnTopology(topology, { SESSION_SECRET: `${newSecret},${TEST_SESSION_SECRET}` })
      ).app
      const { body, cookie } = await createSession({ user: 'ada' })
      const res = await rotatedApp.request('/sessions/current', withCookie(cookie))
      expect(res.status).toBe(200)
      expect(sidCookie(res)).toBe(`sid=${new SessionCookieSigner([newSecret]).sign(body.id)}`)
    })
  })

  it('answers a development grant Cache-Control: no-store: it is a credential', async () => {
    const devApp = (await buildAppOnTopology(topology, { DEV_GRANTS: 'true' })).app
    const res = await devApp.request('/dev/grant', { method: 'POST' })
    expect(res.status).toBe(200)
    expect(res.headers.get('cache-control')).toBe('no-store')
  })

  describe('production mode', () => {
    it('creates no anonymous session and mints no development grant', async () => {
      const prodApp = (await buildAppOnTopology(topology, { NODE_ENV: 'production' })).app
      const anonymous = await prodApp.request('/sessions', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: '{"data":{"a":1}}',
      })
      expect(anonymous.status).toBe(401)
      expect(anonymous.headers.get('set-cookie')).toBeNull()
      expect((await prodApp.request('/dev/grant', { method: 'POST' })).status).toBe(404)
    })

    it('marks the cookie Secure, with every other flag as in development', async () => {
      const prodApp = (await buildAppOnTopology(topology, { NODE_ENV: 'production' })).app
      const res = await prodApp.request('/sessions', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ grant: await grantToken() }),
      })
      expect(res.status).toBe(201)
      const cookie = res.headers.get('set-cookie') ?? ''
      for (const flag of ['HttpOnly', 'Secure', 'SameSite=Lax', 'Path=/', 'Max-Age=86400']) {
        expect(cookie.split('; '), flag).toContain(flag)
      }
    })
  })

  describe('deeply nested data', () => {
    const nested = (depth: number) => `{"data":{"a":${'['.repeat(depth)}${']'.repeat(depth)}}}`

    it('is refused with 400 on create and on patch, never a 500, however deep', async () => {
      const { cookie } = await createSession()
      for (const depth of [64, 5000, 50_000]) {
        const created = await postSessions(nested(depth))
        const patched = await app.request(
          '/sessions/current',
          withCookie(cookie, {
            method: 'PATCH',
            headers: { 'Content-Type': 'application/json' },
            body: nested(depth),
          }),
        )
        for (const res of [created, patched]) {
          expect(res.status, String(depth)).toBe(400)
          expect(await res.json()).toMatchObject({
            error: { code: 'invalid_body', message: /nested deeper/ },
          })
        }
      }
      expect((await postSessions(nested(62))).status).toBe(201)
    })
  })

  describe('unusual but valid input', () => {
    it('removes thousands of keys in one PATCH (a 400 or 500 would be wrong: the body is valid)', async () => {
      const { cookie } = await createSession({ keep: 1 })
      const removals = Object.fromEntries(Array.from({ length: 9000 }, (_, i) => [`gone${i}`, null]))
      const res = await patch(cookie, removals)
      expect(res.status).toBe(200)
      expect(await dataOf(res)).toEqual({ keep: 1 })
    })

    it('refuses a "__proto__" key with 400 instead of silently dropping it', async () => {
      const res = await postSessions('{"data":{"__proto__":{"admin":true},"user":"ada"}}')
      expect(res.status).toBe(400)
      expect(await res.json()).toMatchObject({
        error: { code: 'invalid_body', message: expect.stringMatching(/__proto__/) },
      })
    })
  })
})
