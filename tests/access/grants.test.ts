import { describe, expect, it } from 'vitest'
import { allows, grantClaim } from '../../src/access/grants.js'

describe('allows', () => {
  const grant = { read: ['orders.*', 'prices'], write: ['orders.eu'] }

  it.each([
    ['read', 'prices', true],
    ['read', 'prices2', false],
    ['read', 'orders.eu', true],
    ['read', 'orders.', true],
    ['read', 'orders', false],
    ['read', 'ordersx', false],
    ['write', 'orders.eu', true],
    ['write', 'orders.us', false],
    ['write', 'prices', false],
  ] as const)('%s %s: %s', (access, name, expected) => {
    expect(allows(grant, access, name)).toBe(expected)
  })

  it('lets * alone cover every buffer, and an empty grant none', () => {
    expect(allows({ read: ['*'], write: [] }, 'read', 'anything.at-all')).toBe(true)
    expect(allows({ read: ['*'], write: [] }, 'write', 'anything')).toBe(false)
    expect(allows({ read: [], write: [] }, 'read', 'x')).toBe(false)
  })
})

describe('the buffers claim', () => {
  it('accepts names, prefixes ending in *, and *; defaults missing lists to empty', () => {
    expect(grantClaim.parse({ read: ['a', 'b.*', '*'] })).toEqual({ read: ['a', 'b.*', '*'], write: [] })
  })

  it.each([
    [{ read: ['a*b'] }],
    [{ read: ['*x'] }],
    [{ read: ['{tag}'] }],
    [{ read: 'a' }],
    [{ admin: true }],
  ])('refuses %j', (claim) => {
    expect(grantClaim.safeParse(claim).success).toBe(false)
  })
})
