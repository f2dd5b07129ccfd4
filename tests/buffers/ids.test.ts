import { describe, expect, it } from 'vitest'
import { BEFORE_ALL, compareItemIds, parseItemId } from '../../src/buffers/ids.js'

const UINT64_MAX = '18446744073709551615'

describe('parseItemId', () => {
  it('returns the canonical form: leading zeros stripped from both parts', () => {
    expect(parseItemId('1526919030474-55')).toBe('1526919030474-55')
    expect(parseItemId('0-0')).toBe('0-0')
    expect(parseItemId('007-0009')).toBe('7-9')
    expect(parseItemId('000-000')).toBe('0-0')
    expect(parseItemId('00000000000000000042-1')).toBe('42-1')
    expect(parseItemId(`00000000000000000001-${UINT64_MAX}`)).toBe(`1-${UINT64_MAX}`)
  })

  it('accepts both parts up to 2^64-1 and rejects anything above', () => {
    expect(parseItemId(`${UINT64_MAX}-${UINT64_MAX}`)).toBe(`${UINT64_MAX}-${UINT64_MAX}`)
    expect(parseItemId('18446744073709551616-0')).toBeNull()
    expect(parseItemId('0-18446744073709551616')).toBeNull()
    expect(parseItemId('99999999999999999999-0')).toBeNull()
  })

  it.each([
    '',
    '-',
    '1',
    '1-',
    '-1',
    '1-2-3',
    '1--2',
    '+1-2',
    '-1-2',
    '1-+2',
    '1.0-2',
    '1e3-0',
    '0x1-0',
    'a-b',
    '1-2a',
    ' 1-2',
    '1-2 ',
    '1-2\n',
    '1 -2',
    '1-*',
    '*',
    '$',
    '>',
    '١-٢',
  ])('rejects the malformed id %j', (raw) => {
    expect(parseItemId(raw)).toBeNull()
  })
})

describe('compareItemIds', () => {
  const sign = (a: string, b: string) => Math.sign(compareItemIds(a, b))

  it('orders by ms first, numerically, whatever the number of digits', () => {
    expect(sign('9-0', '10-0')).toBe(-1)
    expect(sign('10-0', '9-0')).toBe(1)
    expect(sign('9-5', '10-0')).toBe(-1)
    expect(sign('99-99', '100-0')).toBe(-1)
    expect(sign('1-0', '2-0')).toBe(-1)
    expect(sign('2-0', '1-99999')).toBe(1)
    expect(sign('1526919030474-0', '1526919030475-0')).toBe(-1)
    expect(sign(`${UINT64_MAX}-0`, '18446744073709551614-9')).toBe(1)
  })

  it('orders by seq, numerically, when ms is equal', () => {
    expect(sign('1-9', '1-10')).toBe(-1)
    expect(sign('1-10', '1-9')).toBe(1)
    expect(sign('1-2', '1-3')).toBe(-1)
    expect(sign('5-100', '5-99')).toBe(1)
    expect(sign(`7-${UINT64_MAX}`, '7-18446744073709551614')).toBe(1)
  })

  it('is zero for equal ids', () => {
    expect(compareItemIds('0-0', '0-0')).toBe(0)
    expect(compareItemIds('10-9', '10-9')).toBe(0)
    expect(compareItemIds(`${UINT64_MAX}-${UINT64_MAX}`, `${UINT64_MAX}-${UINT64_MAX}`)).toBe(0)
  })

  it('sorts BEFORE_ALL before every id Redis issues', () => {
    expect(BEFORE_ALL).toBe('0-0')
    for (const id of ['0-1', '1-0', '9-9', '10-0', '1526919030474-0', `${UINT64_MAX}-${UINT64_MAX}`]) {
      expect(sign(BEFORE_ALL, id)).toBe(-1)
      expect(sign(id, BEFORE_ALL)).toBe(1)
    }
  })

  it('sorts a shuffled list of canonical ids into numeric order', () => {
    const ordered = [
      '0-0',
      '0-1',
      '0-9',
      '0-10',
      '1-0',
      '1-9',
      '1-10',
      '1-100',
      '9-0',
      '10-0',
      '10-1',
      '99-0',
      '100-0',
      '1526919030474-55',
      `${UINT64_MAX}-0`,
      `${UINT64_MAX}-${UINT64_MAX}`,
    ]
    const shuffled = [...ordered].reverse()
    shuffled.push(...shuffled.splice(0, 5))
    const bigKey = (id: string) => id.split('-').map(BigInt) as [bigint, bigint]
    const byBigInt = [...shuffled].sort((x, y) => {
      const [xm, xs] = bigKey(x)
      const [ym, ys] = bigKey(y)
      return xm !== ym ? (xm < ym ? -1 : 1) : xs < ys ? -1 : xs > ys ? 1 : 0
    })
    expect(byBigInt).toEqual(ordered)
    expect([...shuffled].sort(compareItemIds)).toEqual(ordered)
  })
})
