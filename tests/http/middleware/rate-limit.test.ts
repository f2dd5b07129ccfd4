import { randomBytes } from 'node:crypto'
import { describe, expect, inject, it } from 'vitest'
import { rateLimit } from '../../../src/http/middleware/rate-limit.js'
import { buildTestApp } from '../../support/app.js'
import { servedUrl } from '../../support/buffers.js'

/** A client address no other test uses (TEST-NET-2 plus random bits, as IPv6 to have room). */
const clientAddress = () => `2001:db8:${randomBytes(2).toString('hex')}::${randomBytes(2).toString('hex')}`

/** Two replicas sharing one Redis, 5 sessions a minute per address, behind a proxy at 127.0.0.1. */
const replicas = await Promise.all(
  [1, 2].map(() =>
    buildTestApp(inject('redisUrl'), { RATE_LIMIT_SESSIONS_PER_MINUTE: '5', TRUST_PROXY: '127.0.0.1' }),
  ),
)
const urls = await Promise.all(replicas.map(({ app }) => servedUrl(app)))

/** POST /sessions over real HTTP to replica `i`, as if a proxy forwarded it from `from`. */
const createSession = (i: number, from: string) =>
  fetch(`${urls[i % 2]}/sessions`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-Forwarded-For': from },
    body: '{}',
  })

describe('rate limit on POST /sessions', () => {
  it('allows exactly the limit across two replicas, then answers 429 with Retry-After', async () => {
    const from = clientAddress()
    for (let i = 0; i < 5; i++) expect((await createSession(i, from)).status).toBe(201)
    for (const i of [0, 1]) {
      const res = await createSession(i, from)
      expect(res.status).toBe(429)
      // One attempt more every 60 s / 5.
      expect(Number(res.headers.get('Retry-After'))).toBeGreaterThanOrEqual(11)
      expect(Number(res.headers.get('Retry-After'))).toBeLessThanOrEqual(12)
      expect(res.headers.get('Set-Cookie')).toBeNull()
      expect(await res.json()).toEqual({ error: { code: 'rate_limited', message: expect.any(String) } })
    }
  })

  it('counts per client address, under concurrency too', async () => {
    const [busy, other] = [clientAddress(), clientAddress()]
    const statuses = await Promise.all(
      Array.from({ length: 20 }, async (_, i) => (await createSession(i, busy)).status),
    )
    expect(statuses.filter((status) => status === 201)).toHaveLength(5)
    expect(statuses.filter((status) => status === 429)).toHaveLength(15)
    expect((await createSession(0, other)).status).toBe(201)
  })

  it('limits only session creation', async () => {
    const from = clientAddress()
    for (let i = 0; i < 6; i++) await createSession(i, from)
    const read = await fetch(`${urls[0]}/sessions/current`, { headers: { 'X-Forwarded-For': from } })
    expect(read.status).toBe(401)
  })
})

describe('rateLimit', () => {
  it('limits any route by the subject it is given', async () => {
    const { app } = await buildTestApp(inject('redisUrl'), { RATE_LIMIT_APPENDS_PER_MINUTE: '2' })
    app.post(
      '/test-limited',
      rateLimit('appends', (c) => c.req.header('X-Subject') ?? ''),
      (c) => c.text('done'),
    )
    const post = (subject: string) =>
      app.request('/test-limited', { method: 'POST', headers: { 'X-Subject': subject } })
    const subject = randomBytes(8).toString('hex')
    expect((await post(subject)).status).toBe(200)
    expect((await post(subject)).status).toBe(200)
    const refused = await post(subject)
    expect(refused.status).toBe(429)
    expect(refused.headers.get('Retry-After')).toBe('30')
    expect(await refused.json()).toMatchObject({ error: { code: 'rate_limited' } })
    expect((await post(`${subject}-other`)).status).toBe(200)
  })
})
