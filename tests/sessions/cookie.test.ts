import { describe, expect, it } from 'vitest'
import { SessionCookie } from '../../src/sessions/cookie.js'

describe('SessionCookie', () => {
  const cookie = new SessionCookie({ name: 'sid', maxAgeSeconds: 600, secure: true })

  it('reads its own cookie among others, and only a cookie of exactly its name', () => {
    expect(cookie.read('theme=dark; sid=abc.def; lang=en')).toBe('abc.def')
    expect(cookie.read('sid=first; sid=second')).toBe('first')
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
