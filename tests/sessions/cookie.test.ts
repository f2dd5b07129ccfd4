import { createHmac, randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { SessionCookie, SessionCookieSigner } from '../../src/sessions/cookie.js'
import { newSessionId } from '../../src/sessions/ids.js'

describe('SessionCookie', () => {
  const cookie = new SessionCookie({ name: 'sid', maxAgeSeconds: 600, secure: true })

  it('reads its own cookie among others, and only a cookie of exactly its name', () => {
    expect(cookie.read('theme=dark; sid=abc.def; lang=en')).toBe('abc.def')
    expect(cookie.read('sid=first; sid=second')).toBe('first')
    expect(cookie.read('sid=first; sid=second', (value) => value === 'second')).toBe('second')
    expect(cookie.read('sid=first; sid=second', () => false)).toBeUndefined()
    expect(cookie.read('  sid = spaced ')).toBe('spaced')
    expect(cookie.read('sid="quoted.value"')).toBe('quoted.value')
    expect(cookie.read('xsid=other; sidx=other')).toBeUndefined()
    expect(cookie.read('sid')).toBeUndefined()
    expect(cookie.read(undefined)).toBeUndefined()
  })

  it('writes and expires the cookie with the same attributes', () => {
    expect(cookie.set('abc.def')).toBe('sid=abc.def; Max-Age=600; Path=/; HttpOnly; Secure; SameSite=Lax')
    expect(cookie.expire()).toBe('sid=; Max-Age=0; Path=/; HttpOnly; Secure; SameSite=Lax')
    const plain = new SessionCookie({ name: 'sid', maxAgeSeconds: 600, secure: false })
    expect(plain.set('v')).not.toContain('Secure')
  })
})

describe('SessionCookieSigner', () => {
  // Realistic secrets: SESSION_SECRET entries are at least 32 characters.
  const NEW_SECRET = 'new-session-secret-0123456789abcdef-rotated-in'
  const OLD_SECRET = 'old-session-secret-0123456789abcdef-rotated-out'
  const newId = () => newSessionId()

  it('signs as `<id>.<HMAC-SHA256 of the id, base64url>` and verifies its own values', () => {
    const signer = new SessionCookieSigner([NEW_SECRET])
    const id = newId()
    const value = signer.sign(id)
    expect(value).toBe(`${id}.${createHmac('sha256', NEW_SECRET).update(id).digest('base64url')}`)
    expect(signer.verify(value)).toEqual({ id, current: true })
  })

  it('remembers at most 10,000 verified values, dropping the oldest first', () => {
    const signer = new SessionCookieSigner([NEW_SECRET])
    const values = Array.from({ length: 10_001 }, () => signer.sign(newId()))
    // A remembered value's result is handed back as it is; a forgotten one is verified afresh.
    const results = values.map((value) => signer.verify(value))
    expect(results.every((result) => result !== null)).toBe(true)
    expect(signer.remembered).toBe(10_000)

    const newest = values[10_000] as string
    const again = signer.verify(newest)
    expect(again).toEqual({ id: newest.slice(0, 36), current: true })
    expect(again).toBe(results[10_000])
    // The second oldest is still remembered; the oldest was the one evicted.
    expect(signer.verify(values[1] as string)).toBe(results[1])
    expect(signer.remembered).toBe(10_000)
    const oldest = signer.verify(values[0] as string)
    expect(oldest).toEqual({ id: (values[0] as string).slice(0, 36), current: true })
    expect(oldest).not.toBe(results[0])
    // Verifying it again remembered it again, within the same bound.
    expect(signer.remembered).toBe(10_000)
    expect(signer.verify(values[0] as string)).toBe(oldest)
  })

  it('verifies ids of 36 characters (a tag, then 192 random bits) and v2 ids of 32, no other length', () => {
    const signer = new SessionCookieSigner([NEW_SECRET])
    for (const id of [newId(), randomBytes(24).toString('base64url')]) {
      expect(signer.verify(signer.sign(id))).toEqual({ id, current: true })
    }
    for (const length of [31, 33, 35, 37]) {
      const id = newId().padEnd(length, 'A').slice(0, length)
      expect(signer.verify(signer.sign(id)), `${length}`).toBeNull()
    }
  })

  it('never remembers a failure', () => {
    const signer = new SessionCookieSigner([NEW_SECRET])
    const id = newId()
    const good = signer.sign(id)
    expect(signer.verify(good)).toEqual({ id, current: true })
    expect(signer.remembered).toBe(1)

    const signature = good.slice(id.length + 1)
    const flipped = `${signature[0] === 'A' ? 'B' : 'A'}${signature.slice(1)}`
    const failures = [
      // Garbage.
      '',
      '.',
      'not-a-session-cookie',
      `${id}.`,
      `.${signature}`,
      // A signature of the right shape that is not this id's.
      `${id}.${flipped}`,
      `${newId()}.${signature}`,
      // Signed by a secret this signer does not have.
      new SessionCookieSigner([OLD_SECRET]).sign(id),
      // Odd shapes and sizes.
      `${id}${signature}`,
      `${id}.${signature}.`,
      `${id}.${signature}=`,
      `${id}..${signature}`,
      `${id.slice(1)}.${signature}`,
      `${id}x.${signature}`,
      `${id}.${signature}A`,
      `${id}.${signature.slice(1)}`,
      `${id.slice(0, -1)}+.${signature}`,
      `${id} .${signature}`,
      `${id}.${signature}`.repeat(200),
      `${'A'.repeat(64 * 1024)}.${signature}`,
    ]
    for (const value of failures) {
      expect(signer.verify(value), value.slice(0, 100)).toBeNull()
      // Twice: a failure is verified (and fails) afresh every time.
      expect(signer.verify(value)).toBeNull()
    }
    expect(signer.remembered).toBe(1)
  })

  it('accepts only the canonical encoding: the 3 other values of the last character are refused, never remembered', () => {
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
    const signer = new SessionCookieSigner([NEW_SECRET, OLD_SECRET])
    for (let n = 0; n < 50; n++) {
      const id = newId()
      for (const good of [signer.sign(id), new SessionCookieSigner([OLD_SECRET]).sign(id)]) {
        const last = alphabet.indexOf(good.at(-1) as string)
        // The last character holds 4 bits of the signature and 2 that must be zero.
        expect(last % 4).toBe(0)
        const variants = [1, 2, 3].map((low) => `${good.slice(0, -1)}${alphabet[last + low]}`)
        // Node decodes every variant to the same bytes: the encoding, not the HMAC, must refuse them.
        for (const variant of variants) {
          expect(Buffer.from(variant.slice(33), 'base64url')).toEqual(
            Buffer.from(good.slice(33), 'base64url'),
          )
        }
        const remembered = signer.remembered
        for (const variant of variants) expect(signer.verify(variant), variant).toBeNull()
        expect(signer.remembered).toBe(remembered)
        // The canonical value verifies, and its variants still fail once it is remembered.
        expect(signer.verify(good)).toMatchObject({ id })
        for (const variant of variants) expect(signer.verify(variant), variant).toBeNull()
        expect(signer.remembered).toBe(remembered + 1)
      }
    }
  })

  it('signs with the first secret and verifies with any, telling which was current', () => {
    const rotating = new SessionCookieSigner([NEW_SECRET, OLD_SECRET])
    const onlyNew = new SessionCookieSigner([NEW_SECRET])
    const onlyOld = new SessionCookieSigner([OLD_SECRET])

    const id = newId()
    const signed = rotating.sign(id)
    expect(signed).toBe(onlyNew.sign(id))
    expect(onlyNew.verify(signed)).toEqual({ id, current: true })
    expect(onlyOld.verify(signed)).toBeNull()

    const legacyId = newId()
    expect(rotating.verify(onlyOld.sign(legacyId))).toEqual({ id: legacyId, current: false })
    const freshId = newId()
    expect(rotating.verify(onlyNew.sign(freshId))).toEqual({ id: freshId, current: true })
    expect(rotating.verify(signed)).toEqual({ id, current: true })
    // Remembered results keep telling which secret signed them.
    expect(rotating.verify(onlyOld.sign(legacyId))).toEqual({ id: legacyId, current: false })
    expect(rotating.verify(onlyNew.sign(freshId))).toEqual({ id: freshId, current: true })
  })

  it('needs at least one secret', () => {
    expect(() => new SessionCookieSigner([])).toThrow(/at least one session secret/)
  })
})
