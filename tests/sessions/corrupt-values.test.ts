import { afterEach, describe, expect, inject, it, vi } from 'vitest'
import { sessionFingerprint, sessionKey } from '../../src/sessions/ids.js'
import { CorruptSessionError } from '../../src/sessions/store.js'
import { buildTestApp } from '../support/app.js'
import { bufferName, tokenHeaders } from '../support/buffers.js'
import { grantToken } from '../support/grants.js'

/**
 * A session key holding what the service never writes (a bug, a hand edit, another program) is never
 * handed to a route as session data: the request is a 500, and the log names the session by its
 * fingerprint and says what is wrong. Each value is put into a real Redis under a real session's key.
 */

const { app, client } = await buildTestApp(inject('redisUrl'))
const json = { 'Content-Type': 'application/json' }
afterEach(() => {
  vi.restoreAllMocks()
})

const BINDING = JSON.stringify({
  sub: 'ada',
  grant: { read: [], write: [] },
  grantExpiresAt: Date.now() + 60_000,
  createdAt: Date.now(),
})

/** What the session key holds, and what the log must say about it. */
const CORRUPT: [string, string, RegExp][] = [
  ['text that is not JSON', 'not json at all', /data is not a JSON object/],
  ['a JSON number', '42', /data is not a JSON object/],
  ['a JSON array', '[{"a":1}]', /data is not a JSON object/],
  ['a JSON string', '"{\\"a\\":1}"', /data is not a JSON object/],
  ['JSON null', 'null', /data is not a JSON object/],
  ['an empty first line', '\n{"a":1}', /first line is not a user binding/],
  ['a first line that is not JSON', 'ada\n{"a":1}', /first line is not a user binding/],
  ['a binding without its grant', '{"sub":"ada","createdAt":1}\n{"a":1}', /first line is not a user binding/],
  [
    'a binding whose user is a number',
    `${BINDING.replace('"ada"', '7')}\n{"a":1}`,
    /first line is not a user binding/,
  ],
  ['a binding over an array', `${BINDING}\n[1]`, /data is not a JSON object/],
]

async function sessionCookie(): Promise<{ id: string; cookie: string }> {
  const res = await app.request('/sessions', { method: 'POST', headers: json, body: '{"data":{"a":1}}' })
  expect(res.status).toBe(201)
  const { id } = (await res.json()) as { id: string }
  return { id, cookie: /^[^;]+/.exec(res.headers.get('set-cookie') ?? '')?.[0] as string }
}

/** The response's status and error code, and the errors the app logged while `request` ran. */
async function loggedErrors(request: () => Response | Promise<Response>) {
  const logged = vi.spyOn(app.logger, 'error')
  const res = await request()
  const { error } = (await res.json()) as { error?: { code: string } }
  return {
    status: res.status,
    code: error?.code,
    errors: logged.mock.calls.map(([fields]) => (fields as { err?: unknown }).err),
  }
}

describe('a session key holding a value the service did not write', () => {
  it.each(CORRUPT)('%s: a read is a 500 whose log says so, by fingerprint', async (_, value, reason) => {
    const { id, cookie } = await sessionCookie()
    await client.set(sessionKey(id), value)
    const { status, code, errors } = await loggedErrors(() =>
      app.request('/sessions/current', { headers: { Cookie: cookie } }),
    )
    expect([status, code]).toEqual([500, 'internal_error'])
    expect(errors).toHaveLength(1)
    const [error] = errors as Error[]
    expect(error).toBeInstanceOf(CorruptSessionError)
    expect(error?.message).toMatch(reason)
    expect(error?.message).toContain(sessionFingerprint(id))
    // The id is a credential: it stays out of the log.
    expect(error?.message).not.toContain(id)
  })

  it.each(CORRUPT)('%s: a patch is a 500 too, and the value is left as it was', async (_, value) => {
    const { id, cookie } = await sessionCookie()
    await client.set(sessionKey(id), value)
    const { status, errors } = await loggedErrors(() =>
      app.request('/sessions/current', {
        method: 'PATCH',
        headers: { ...json, Cookie: cookie },
        body: '{"data":{"b":2}}',
      }),
    )
    expect(status).toBe(500)
    expect(errors[0]).toBeInstanceOf(CorruptSessionError)
    // A structure the patch script cannot split is not rewritten; one it can is merged, still refused.
    if (!value.endsWith('}')) expect(await client.get(sessionKey(id))).toBe(value)
  })

  it("in a user's listing, is a 500 for the admin too, while revoking still ends it", async () => {
    const sub = `user-${bufferName('corrupt')}`
    const res = await app.request('/sessions', {
      method: 'POST',
      headers: json,
      body: JSON.stringify({ grant: await grantToken({ sub }) }),
    })
    const { id } = (await res.json()) as { id: string }
    await client.set(sessionKey(id), '42')
    const { status, errors } = await loggedErrors(() =>
      app.request(`/users/${sub}/sessions`, { headers: tokenHeaders }),
    )
    expect(status).toBe(500)
    expect(errors[0]).toBeInstanceOf(CorruptSessionError)
    const revoked = await app.request(`/users/${sub}/sessions`, { method: 'DELETE', headers: tokenHeaders })
    expect(await revoked.json()).toEqual({ ended: 1 })
    expect(await client.exists(sessionKey(id))).toBe(0)
  })

  it('of another type (a hash): a 500 with WRONGTYPE in the log', async () => {
    const { id, cookie } = await sessionCookie()
    await client.del(sessionKey(id))
    await client.hSet(sessionKey(id), 'a', '1')
    const { status, errors } = await loggedErrors(() =>
      app.request('/sessions/current', { headers: { Cookie: cookie } }),
    )
    expect(status).toBe(500)
    expect(String(errors[0])).toMatch(/WRONGTYPE/)
  })
})
