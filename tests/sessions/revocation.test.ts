import { describe, expect, inject, it } from 'vitest'
import type { ServiceApp } from '../../src/app.js'
import { sessionKey, userIndexKey } from '../../src/sessions/ids.js'
import { buildTestApp } from '../support/app.js'
import { appendNumbers, bufferName, servedUrl, tokenHeaders } from '../support/buffers.js'
import { grantToken } from '../support/grants.js'
import { type SseBlock, SseStream } from '../support/sse-client.js'

const redisUrl = inject('redisUrl')
const json = { 'Content-Type': 'application/json' }

async function sessionFor(app: ServiceApp, grant: string): Promise<string> {
  const res = await app.request('/sessions', {
    method: 'POST',
    headers: json,
    body: JSON.stringify({ grant }),
  })
  expect(res.status).toBe(201)
  return /^[^;]+/.exec(res.headers.get('set-cookie') ?? '')?.[0] as string
}

/** Opens the buffer's event stream over real HTTP with the cookie alone, as EventSource does. */
async function follow(app: ServiceApp, name: string, cookie: string): Promise<Response> {
  return fetch(`${await servedUrl(app)}/buffers/${name}/events`, { headers: { Cookie: cookie } })
}

/** Reads until the stream ends; returns its blocks and when it ended. */
async function untilEnd(
  stream: SseStream,
  timeoutMs: number,
): Promise<{ blocks: SseBlock[]; endedAt: number }> {
  const blocks: SseBlock[] = []
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const block = await stream.nextBlock(Math.max(1, deadline - Date.now()))
    if (block === null) return { blocks, endedAt: performance.now() }
    blocks.push(block)
  }
}

const revokedReason = (blocks: SseBlock[]) => {
  const revoked = blocks.find((block) => block.event === 'revoked')
  return (
    revoked && { reason: (JSON.parse(revoked.data as string) as { reason: string }).reason, id: revoked.id }
  )
}

describe('revocation ends live streams on every replica', () => {
  it('a stream opened through A ends within 1 s when the user is revoked through B; its reconnect is a 401', async () => {
    const { app: a } = await buildTestApp(redisUrl)
    const { app: b } = await buildTestApp(redisUrl)
    const name = bufferName('revoke')
    const sub = `user-${name}`
    const cookie = await sessionFor(a, await grantToken({ sub, read: [name] }))
    const stream = new SseStream(await follow(a, name, cookie))
    await appendNumbers(b, name, [1])
    expect((await stream.events(1)).map((event) => event.data)).toEqual(['1'])

    const listed = await b.request(`/users/${sub}/sessions`, { headers: tokenHeaders })
    expect(((await listed.json()) as { sessions: unknown[] }).sessions).toHaveLength(1)
    const revokedAt = performance.now()
    const revoke = await b.request(`/users/${sub}/sessions`, { method: 'DELETE', headers: tokenHeaders })
    expect(await revoke.json()).toEqual({ ended: 1 })
    const { blocks, endedAt } = await untilEnd(stream, 3000)
    expect(endedAt - revokedAt).toBeLessThan(1000)
    expect(revokedReason(blocks)).toEqual({ reason: 'session_ended', id: undefined })
    expect(stream.lastEventId).not.toBe('')

    const again = await follow(a, name, cookie)
    expect(again.status).toBe(401)
    await again.body?.cancel()
  })

  it('a logout through B ends the streams the session opened through A', async () => {
    const { app: a } = await buildTestApp(redisUrl)
    const { app: b } = await buildTestApp(redisUrl)
    const name = bufferName('logout')
    const cookie = await sessionFor(a, await grantToken({ sub: `user-${name}`, read: [name] }))
    const streams = [
      new SseStream(await follow(a, name, cookie)),
      new SseStream(await follow(b, name, cookie)),
    ]
    await appendNumbers(a, name, [1])
    for (const stream of streams) await stream.events(1)
    expect(
      (await b.request('/sessions/current', { method: 'DELETE', headers: { Cookie: cookie } })).status,
    ).toBe(204)
    for (const stream of streams) {
      expect(revokedReason((await untilEnd(stream, 2000)).blocks)?.reason).toBe('session_ended')
    }
  })

  it('ends a stream when its grant expires, and the reconnect is a 403: the session lives on, its grant does not', async () => {
    const { app } = await buildTestApp(redisUrl)
    const name = bufferName('expiry')
    const cookie = await sessionFor(
      app,
      await grantToken({ sub: `user-${name}`, read: [name], expiresIn: 2 }),
    )
    const opened = performance.now()
    const stream = new SseStream(await follow(app, name, cookie))
    const { blocks, endedAt } = await untilEnd(stream, 5000)
    expect(revokedReason(blocks)?.reason).toBe('grant_expired')
    expect(endedAt - opened).toBeLessThan(3000)
    const again = await follow(app, name, cookie)
    expect(again.status).toBe(403)
    await again.body?.cancel()
    expect((await app.request('/sessions/current', { headers: { Cookie: cookie } })).status).toBe(200)
  })

  it('ends a stream opened with a grant token at its exp', async () => {
    const { app } = await buildTestApp(redisUrl)
    const name = bufferName('token-expiry')
    const token = await grantToken({ read: [name], expiresIn: 1 })
    const res = await fetch(`${await servedUrl(app)}/buffers/${name}/events`, {
      headers: { Authorization: `Bearer ${token}` },
    })
    expect(revokedReason((await untilEnd(new SseStream(res), 4000)).blocks)?.reason).toBe('grant_expired')
  })
})

describe("a user's session index", () => {
  it('forgets expired sessions: it stays bounded however many expire, and it expires itself', async () => {
    const { app, client } = await buildTestApp(redisUrl)
    const sub = `user-${bufferName('index')}`
    const grant = await grantToken({ sub, read: ['x'] })
    for (let n = 0; n < 50; n++) await sessionFor(app, grant)
    expect(await client.zCard(userIndexKey(sub))).toBe(50)
    // What expiry does, at once: every session key goes.
    for (const id of await client.zRange(userIndexKey(sub), 0, -1)) await client.pExpire(sessionKey(id), 1)
    await new Promise((resolve) => setTimeout(resolve, 20))
    const live = await sessionFor(app, grant)
    const listed = await app.request(`/users/${sub}/sessions`, { headers: tokenHeaders })
    const { sessions } = (await listed.json()) as { sessions: { fingerprint: string }[] }
    expect(sessions).toHaveLength(1)
    expect(JSON.stringify(sessions)).not.toContain(live.split('=')[1]?.split('.')[0])
    expect(await client.zCard(userIndexKey(sub))).toBe(1)
    expect(await client.pTTL(userIndexKey(sub))).toBeGreaterThan(0)
  })

  it('is answered Cache-Control: no-store, listed or ended: it describes sessions and grants', async () => {
    const { app } = await buildTestApp(redisUrl)
    const sub = `user-${bufferName('nostore')}`
    await sessionFor(app, await grantToken({ sub, read: ['x'] }))
    const listed = await app.request(`/users/${sub}/sessions`, { headers: tokenHeaders })
    expect(listed.status).toBe(200)
    expect(listed.headers.get('cache-control')).toBe('no-store')
    const ended = await app.request(`/users/${sub}/sessions`, { method: 'DELETE', headers: tokenHeaders })
    expect(ended.status).toBe(200)
    expect(ended.headers.get('cache-control')).toBe('no-store')
  })

  it('refuses with 400 a user id no grant can carry (over 256 characters, or not printable ASCII)', async () => {
    const { app } = await buildTestApp(redisUrl)
    for (const sub of ['x'.repeat(257), 'a%0Ab', 'a%20b', '%C3%A9']) {
      for (const method of ['GET', 'DELETE']) {
        const res = await app.request(`/users/${sub}/sessions`, { method, headers: tokenHeaders })
        expect(res.status, `${method} ${sub}`).toBe(400)
        expect(await res.json()).toMatchObject({ error: { code: 'bad_request' } })
      }
    }
    expect((await app.request(`/users/${'x'.repeat(256)}/sessions`, { headers: tokenHeaders })).status).toBe(
      200,
    )
  })

  it('keeps at most 100 sessions per user: the 101st ends the oldest', async () => {
    const { app, client } = await buildTestApp(redisUrl)
    const sub = `user-${bufferName('cap')}`
    const grant = await grantToken({ sub, read: ['x'] })
    const cookies: string[] = []
    for (let n = 0; n < 102; n++) cookies.push(await sessionFor(app, grant))
    expect(await client.zCard(userIndexKey(sub))).toBe(100)
    const status = async (cookie: string) =>
      (await app.request('/sessions/current', { headers: { Cookie: cookie } })).status
    expect([await status(cookies[0] as string), await status(cookies[1] as string)]).toEqual([401, 401])
    expect([await status(cookies[2] as string), await status(cookies[101] as string)]).toEqual([200, 200])
  })
})
