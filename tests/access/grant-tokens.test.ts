import { SignJWT } from 'jose'
import { describe, expect, it } from 'vitest'
import { type GrantKeySettings, GrantTokens } from '../../src/access/grant-tokens.js'
import { grantToken } from '../support/grants.js'

const OLD = 'old-grant-secret-0123456789abcdefghijklmnop'
const NEW = 'new-grant-secret-0123456789abcdefghijklmnop'

const settings = (overrides: Partial<GrantKeySettings> = {}): GrantKeySettings => ({
  grantSecrets: [NEW, OLD],
  grantPublicKeys: [],
  grantMaxTtlSeconds: 3600,
  grantAudience: undefined,
  grantIssuer: undefined,
  ...overrides,
})

const refusal = (tokens: GrantTokens, token: string) =>
  tokens.verify(token).then(
    () => 'accepted',
    (error: { code: string; message: string }) => `${error.code}: ${error.message}`,
  )

describe('GrantTokens', () => {
  it('accepts a token signed with any listed secret (rotation) and returns its user, grant and expiry', async () => {
    const tokens = new GrantTokens(settings())
    for (const secret of [NEW, OLD]) {
      const verified = await tokens.verify(await grantToken({ sub: 'ada', read: ['a.*'], secret }))
      expect(verified).toMatchObject({ sub: 'ada', grant: { read: ['a.*'], write: [] } })
      expect(verified.expiresAt).toBeGreaterThan(Date.now())
    }
    const retired = new GrantTokens(settings({ grantSecrets: [NEW] }))
    expect(await refusal(retired, await grantToken({ secret: OLD }))).toMatch(
      /^invalid_grant: .*not signed by a known key/,
    )
  })

  it('refuses an expired token, one that lives too long, and one without sub or buffers', async () => {
    const tokens = new GrantTokens(settings())
    expect(await refusal(tokens, await grantToken({ secret: NEW, expiresIn: -10 }))).toMatch(/expired/)
    expect(await refusal(tokens, await grantToken({ secret: NEW, expiresIn: 7200 }))).toMatch(/too far ahead/)
    const key = new TextEncoder().encode(NEW)
    const exp = Math.floor(Date.now() / 1000) + 60
    const noSub = await new SignJWT({ buffers: { read: ['*'] } })
      .setProtectedHeader({ alg: 'HS256' })
      .setExpirationTime(exp)
      .sign(key)
    expect(await refusal(tokens, noSub)).toMatch(/^invalid_grant/)
    const noBuffers = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('x')
      .setExpirationTime(exp)
      .sign(key)
    expect(await refusal(tokens, noBuffers)).toMatch(/buffers/)
  })

  it('checks aud and iss when configured', async () => {
    const tokens = new GrantTokens(settings({ grantAudience: 'hrs', grantIssuer: 'https://backend' }))
    const key = new TextEncoder().encode(NEW)
    const sign = (aud: string, iss: string) =>
      new SignJWT({ buffers: { read: ['*'] } })
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject('x')
        .setAudience(aud)
        .setIssuer(iss)
        .setExpirationTime('10m')
        .sign(key)
    expect(await refusal(tokens, await sign('hrs', 'https://backend'))).toBe('accepted')
    expect(await refusal(tokens, await sign('other', 'https://backend'))).toMatch(/aud/)
    expect(await refusal(tokens, await sign('hrs', 'https://elsewhere'))).toMatch(/iss/)
  })

  it('refuses every token when no key is configured', async () => {
    const tokens = new GrantTokens(settings({ grantSecrets: [] }))
    expect(tokens.configured).toBe(false)
    expect(await refusal(tokens, await grantToken({ secret: NEW }))).toMatch(/^invalid_grant/)
    expect(await refusal(tokens, 'not-a-jwt')).toMatch(/not a JWT/)
  })
})
