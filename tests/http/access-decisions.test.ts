import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { exportJWK, generateKeyPair, SignJWT } from 'jose'
import { beforeAll, describe, expect, inject, it } from 'vitest'
import {
  CREDENTIALS,
  type Credential,
  DECISIONS,
  type Outcome,
  renderDecisions,
} from '../support/access-decisions.js'
import { buildTestApp, type TestApp } from '../support/app.js'
import { TEST_API_TOKEN } from '../support/env.js'
import { bearer, grantToken } from '../support/grants.js'

const METRICS_TOKEN = 'test-metrics-token-0123456789abcdefghijklmn-01'
const BUFFER = 'orders.table'
const USER = 'table-user'

let test: TestApp
const headersOf = {} as Record<Credential, Record<string, string>>

async function sessionCookie(body: object): Promise<string> {
  const res = await test.app.request('/sessions', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  })
  expect(res.status, await res.clone().text()).toBe(201)
  return /^[^;]+/.exec(res.headers.get('set-cookie') ?? '')?.[0] as string
}

beforeAll(async () => {
  const { publicKey, privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519' })
  const jwk = { ...(await exportJWK(publicKey)), alg: 'EdDSA', kid: 'table-key' }
  const file = join(mkdtempSync(join(tmpdir(), 'grant-keys-')), 'jwks.json')
  writeFileSync(file, JSON.stringify({ keys: [jwk] }))
  test = await buildTestApp(inject('redisUrl'), { GRANT_PUBLIC_KEYS_FILE: file, METRICS_TOKEN })

  const now = Math.floor(Date.now() / 1000)
  const readGrant = { sub: USER, read: ['orders.*'] }
  const unsigned = (payload: object) =>
    `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.`
  const tokens: Partial<Record<Credential, string>> = {
    'token: matching read grant': await grantToken(readGrant),
    'token: matching read grant (EdDSA key)': await new SignJWT({ buffers: { read: ['orders.*'] } })
      .setProtectedHeader({ alg: 'EdDSA', kid: 'table-key' })
      .setSubject(USER)
      .setExpirationTime(now + 600)
      .sign(privateKey),
    'token: matching write grant': await grantToken({ sub: USER, write: ['orders.*'] }),
    'token: expired': await grantToken({ ...readGrant, expiresIn: -60 }),
    'token: retired or unknown key': await grantToken({
      ...readGrant,
      secret: 'a-retired-secret-nobody-lists-any-more-000',
    }),
    'token: alg none': unsigned({ sub: USER, exp: now + 600, buffers: { read: ['*'] } }),
    'token: HS256 signed with the public key': await grantToken({
      ...readGrant,
      secret: new TextEncoder().encode(JSON.stringify(jwk)),
    }),
    'token: exp too far ahead': await grantToken({ ...readGrant, expiresIn: 2 * 86_400 }),
    'metrics token': METRICS_TOKEN,
    'admin token': TEST_API_TOKEN,
  }
  const cookies: Partial<Record<Credential, string>> = {
    'anonymous session': await sessionCookie({}),
    'session: read grant for another buffer': await sessionCookie({
      grant: await grantToken({ sub: USER, read: ['other'] }),
    }),
    'session: matching read grant': await sessionCookie({ grant: await grantToken(readGrant) }),
  }
  for (const credential of CREDENTIALS) {
    const token = tokens[credential]
    const cookie = cookies[credential]
    headersOf[credential] = token ? bearer(token) : cookie ? { Cookie: cookie } : {}
  }
})

async function call(route: string, headers: Record<string, string>): Promise<Outcome> {
  const [method, pattern] = route.split(' ') as [string, string]
  const path = pattern.replace(':name', BUFFER).replace(':sub', 'someone-else')
  const isAppend = route === 'POST /buffers/:name/items'
  const res = await test.app.request(path, {
    method,
    headers: { ...headers, ...(isAppend && { 'Content-Type': 'application/json' }) },
    ...(isAppend && { body: '{"data":1}' }),
  })
  if (res.status < 300) {
    await res.body?.cancel()
    return res.status as Outcome
  }
  const { error } = (await res.json()) as { error: { code: string } }
  return `${res.status} ${error.code}` as Outcome
}

describe('access decisions: every route with every credential', () => {
  it('matches the table, cell for cell', async () => {
    const actual: Record<string, Outcome[]> = {}
    for (const route of Object.keys(DECISIONS)) {
      actual[route] = []
      for (const credential of CREDENTIALS) {
        // Every cell starts from an existing buffer: deletes and reads do not depend on the order.
        await test.app.request(`/buffers/${BUFFER}/items`, {
          method: 'POST',
          headers: { ...bearer(TEST_API_TOKEN), 'Content-Type': 'application/json' },
          body: '{"data":0}',
        })
        actual[route].push(await call(route, headersOf[credential]))
      }
    }
    expect(actual).toEqual(DECISIONS)
  })

  it('is the table doc/security.md shows', () => {
    const doc = readFileSync(new URL('../../doc/security.md', import.meta.url), 'utf8')
    // Compared cell by cell: a Markdown formatter may pad the columns.
    const cells = (markdown: string) => markdown.replace(/ *\| */g, '|').replace(/-{3,}/g, '---')
    expect(cells(doc)).toContain(cells(renderDecisions()))
  })
})
