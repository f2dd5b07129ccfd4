import { describe, expect, inject, it } from 'vitest'
import type { ServiceApp } from '../../src/app.js'
import { buildTestApp } from '../support/app.js'
import { bufferName, servedUrl, tokenHeaders } from '../support/buffers.js'
import { bearer, grantToken } from '../support/grants.js'

/**
 * The abuse limits as a client meets them, each across two app instances sharing one Redis (in process,
 * every request comes from the same client address).
 */
const redisUrl = inject('redisUrl')
const json = { 'Content-Type': 'application/json' }

const pair = async (overrides: Record<string, string>) => [
  (await buildTestApp(redisUrl, overrides)).app,
  (await buildTestApp(redisUrl, overrides)).app,
]

async function codeOf(res: Response): Promise<string> {
  if (res.status < 300) {
    await res.body?.cancel()
    return String(res.status)
  }
  const { error } = (await res.json()) as { error: { code: string } }
  return `${res.status} ${error.code}${res.headers.get('retry-after') ? ' retry-after' : ''}`
}

describe('limits across replicas', () => {
  it('failed authentications: 401 until the budget is spent, then 429 with Retry-After', async () => {
    const [a, b] = (await pair({ RATE_LIMIT_AUTH_FAILURES_PER_MINUTE: '3', TRUST_PROXY: '127.0.0.1' })) as [
      ServiceApp,
      ServiceApp,
    ]
    // Over real HTTP through a trusted proxy (loopback), as a client address this test alone uses.
    const client = `198.51.100.${Math.floor(Math.random() * 250) + 1}`
    const call = async (app: ServiceApp, authorization: string) =>
      fetch(`${await servedUrl(app)}/metrics`, {
        headers: { Authorization: authorization, 'X-Forwarded-For': client },
      })
    const outcomes: string[] = []
    for (const app of [a, b, a, b]) outcomes.push(await codeOf(await call(app, 'Bearer wrong-token')))
    expect(outcomes).toEqual([
      '401 unauthorized',
      '401 unauthorized',
      '401 unauthorized',
      '429 rate_limited retry-after',
    ])
    // A success is neither counted nor refused.
    expect((await call(a, tokenHeaders.Authorization)).status).toBe(200)
  })

  it('appends per grant subject: exact across both instances; the admin token is not limited', async () => {
    const [a, b] = (await pair({ RATE_LIMIT_APPENDS_PER_MINUTE: '3' })) as [ServiceApp, ServiceApp]
    const name = bufferName('appends')
    const token = await grantToken({ sub: `producer-${name}`, write: [name] })
    const append = (app: ServiceApp, headers: Record<string, string>) =>
      app.request(`/buffers/${name}/items`, {
        method: 'POST',
        headers: { ...headers, ...json },
        body: '{"data":1}',
      })
    const outcomes: string[] = []
    for (const app of [a, b, a, b]) outcomes.push(await codeOf(await append(app, bearer(token))))
    expect(outcomes).toEqual(['201', '201', '201', '429 rate_limited retry-after'])
    for (const app of [a, b, a, b]) expect((await append(app, tokenHeaders)).status).toBe(201)
  })

  it('streams per session: the next one past the budget is a 429; closing one frees its slot', async () => {
    const [a, b] = (await pair({ SSE_MAX_STREAMS_PER_SESSION: '2' })) as [ServiceApp, ServiceApp]
    const name = bufferName('slots')
    const created = await a.request('/sessions', {
      method: 'POST',
      headers: json,
      body: JSON.stringify({ grant: await grantToken({ sub: `viewer-${name}`, read: [name] }) }),
    })
    const cookie = /^[^;]+/.exec(created.headers.get('set-cookie') ?? '')?.[0] as string
    const open = async (app: ServiceApp) =>
      fetch(`${await servedUrl(app)}/buffers/${name}/events`, { headers: { Cookie: cookie } })
    const first = await open(a)
    const second = await open(b)
    expect([first.status, second.status]).toEqual([200, 200])
    const third = await open(a)
    expect(await codeOf(third)).toBe('429 too_many_streams')
    await first.body?.cancel()
    // The release follows the close on the server: give it a moment.
    let again: Response | undefined
    for (let attempt = 0; attempt < 20; attempt++) {
      again = await open(b)
      if (again.status === 200) break
      await again.body?.cancel()
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    expect(again?.status).toBe(200)
    await again?.body?.cancel()
    await second.body?.cancel()
  })
})
