import { randomBytes } from 'node:crypto'
import { describe, expect, inject, it } from 'vitest'
import { keys } from '../../src/redis/keys.js'
import { SessionCookieSigner } from '../../src/sessions/cookie.js'
import { sessionKey, tagOf, userIndexKey, userTag } from '../../src/sessions/ids.js'
import { buildTestApp } from '../support/app.js'
import { bufferName, tokenHeaders } from '../support/buffers.js'
import { TEST_SESSION_SECRET } from '../support/env.js'
import { grantToken } from '../support/grants.js'

/**
 * Sessions left by a build before the v3 layout keep working until they expire: their cookies carry v2
 * ids (32 characters, no tag), their keys are `hrs:session:v2:<id>`, a bound one is listed in
 * `hrs:user:{<sub>}:sessions`. Each is written here as that build wrote it (src/sessions/store.ts and
 * session-create.lua at 204ee9a): the binding's JSON on a first line, then the data's JSON text.
 */

const { app, client } = await buildTestApp(inject('redisUrl'))
const signer = new SessionCookieSigner([TEST_SESSION_SECRET])
const TTL = 86_400

interface V2Session {
  id: string
  cookie: string
}

/** A session as the v2 build stored it, with `ttlSeconds` left, and its cookie. */
async function v2Session(data: object, sub?: string, ttlSeconds = 100): Promise<V2Session> {
  const id = randomBytes(24).toString('base64url')
  const createdAt = Date.now() - 60_000
  const binding = sub && {
    sub,
    grant: { read: ['orders.*'], write: [] },
    grantExpiresAt: Date.now() + 3_600_000,
    createdAt,
  }
  const value = binding ? `${JSON.stringify(binding)}\n${JSON.stringify(data)}` : JSON.stringify(data)
  await client.set(keys.v2Session(id), value, { expiration: { type: 'EX', value: ttlSeconds } })
  if (sub) {
    await client.zAdd(keys.v2UserSessions(sub), { score: createdAt, value: id })
    await client.pExpire(keys.v2UserSessions(sub), TTL * 2000)
  }
  return { id, cookie: `sid=${signer.sign(id)}` }
}

const withCookie = (cookie: string, init: RequestInit = {}): RequestInit => ({
  ...init,
  headers: { ...(init.headers as Record<string, string>), Cookie: cookie },
})
const json = { 'Content-Type': 'application/json' }
const current = (cookie: string) => app.request('/sessions/current', withCookie(cookie))

describe('sessions of the v2 layout', () => {
  it('are read at their v2 key, without sliding its expiry: they end within one TTL of the upgrade', async () => {
    const { id, cookie } = await v2Session({ theme: 'dark' })
    const res = await current(cookie)
    expect(res.status).toBe(200)
    expect(await res.json()).toMatchObject({ id, data: { theme: 'dark' } })
    expect(await client.ttl(keys.v2Session(id))).toBeLessThanOrEqual(100)
    expect(await client.exists(sessionKey(id))).toBe(1)
  })

  it('are patched in place, keeping their expiry', async () => {
    const { id, cookie } = await v2Session({ a: 1 })
    const res = await app.request(
      '/sessions/current',
      withCookie(cookie, { method: 'PATCH', headers: json, body: '{"data":{"b":2}}' }),
    )
    expect(res.status).toBe(200)
    expect(await client.get(keys.v2Session(id))).toBe('{"a":1,"b":2}')
    expect(await client.ttl(keys.v2Session(id))).toBeLessThanOrEqual(100)
  })

  it('move to a v3 id when rotated: the user tag, the data and binding kept, the v2 id ended', async () => {
    const sub = `user-${bufferName('v2-rotate')}`
    const { id, cookie } = await v2Session({ a: 1 }, sub)
    const res = await app.request('/sessions/current/rotate', withCookie(cookie, { method: 'POST' }))
    expect(res.status).toBe(200)
    const rotated = (await res.json()) as { id: string; data: unknown; user: string }
    expect(rotated).toMatchObject({ data: { a: 1 }, user: sub })
    expect(rotated.id).toHaveLength(36)
    expect(tagOf(rotated.id)).toBe(userTag(sub))
    expect(await client.exists(keys.v2Session(id))).toBe(0)
    expect(await client.ttl(sessionKey(rotated.id))).toBeGreaterThan(TTL - 100)
    expect(await client.zRange(userIndexKey(sub), 0, -1)).toEqual([rotated.id])
    expect((await current(cookie)).status).toBe(401)
    const recent = await client.xRevRange(keys.revokedSessions(), '+', '-', { COUNT: 100 })
    expect((recent ?? []).some((entry) => entry.message.s === id)).toBe(true)
  })

  it("are listed and revoked with their user's v3 sessions", async () => {
    const sub = `user-${bufferName('v2-revoke')}`
    const old = await v2Session({}, sub)
    const exchanged = await app.request('/sessions', {
      method: 'POST',
      headers: json,
      body: JSON.stringify({ grant: await grantToken({ sub, read: ['orders.*'] }) }),
    })
    expect(exchanged.status).toBe(201)
    const fresh = /^[^;]+/.exec(exchanged.headers.get('set-cookie') ?? '')?.[0] as string

    const listed = await app.request(`/users/${sub}/sessions`, { headers: tokenHeaders })
    expect(((await listed.json()) as { sessions: unknown[] }).sessions).toHaveLength(2)
    const revoked = await app.request(`/users/${sub}/sessions`, { method: 'DELETE', headers: tokenHeaders })
    expect(await revoked.json()).toEqual({ ended: 2 })
    expect([(await current(old.cookie)).status, (await current(fresh)).status]).toEqual([401, 401])
    expect(await client.exists(keys.v2UserSessions(sub))).toBe(0)
  })

  it('end on logout', async () => {
    const { id, cookie } = await v2Session({})
    expect((await app.request('/sessions/current', withCookie(cookie, { method: 'DELETE' }))).status).toBe(
      204,
    )
    expect(await client.exists(keys.v2Session(id))).toBe(0)
    expect((await current(cookie)).status).toBe(401)
  })
})
