import { crc32 } from 'node:zlib'
import { describe, expect, it } from 'vitest'
import { BufferSet } from '../../../src/buffers/live/buffer-set.js'

const NAMES = ['orders', 'prices', 'alerts']
const MAX = '18446744073709551615'

/** The cursor text of raw `bytes` with a valid checksum for `names`: what a careful forger would send. */
function forge(names: readonly string[], bytes: number[]): string {
  const body = Buffer.from(bytes)
  const sum = Buffer.alloc(4)
  sum.writeUInt32BE(crc32(body, crc32([...names].sort().join('\n'))))
  return Buffer.concat([body, sum]).toString('base64url')
}

describe('BufferSet', () => {
  it('sorts its names and drops repeats: the order of the positions', () => {
    expect(new BufferSet(['prices', 'alerts', 'orders', 'alerts']).names).toEqual([
      'alerts',
      'orders',
      'prices',
    ])
  })

  it.each([
    ['ids of one moment', ['1767268800000-0', '1767268800000-1', '1767268800000-999']],
    ['ids far apart', ['1767268800000-0', '1-0', '1767268899999-42']],
    ['0-0 and ms 0', ['0-0', '0-5', '0-0']],
    ['every position 0-0', ['0-0', '0-0', '0-0']],
    ['the largest ids', [`${MAX}-${MAX}`, '0-0', `1767268800000-${MAX}`]],
  ])('decodes exactly what it encoded: %s', (_, positions) => {
    const set = new BufferSet(NAMES)
    const text = set.cursor(positions).text()
    expect(text).toMatch(/^[A-Za-z0-9_-]+$/)
    expect(set.decode(text)).toEqual(positions)
    // The same set named in another order reads it the same.
    expect(new BufferSet([...NAMES].reverse()).decode(text)).toEqual(positions)
  })

  it('moves one position at a time', () => {
    const set = new BufferSet(NAMES)
    const cursor = set.cursor(['0-0', '0-0', '0-0'])
    cursor.move(1, '1767268800000-3')
    cursor.move(2, `${MAX}-0`)
    cursor.move(2, '1767268800001-0')
    expect(set.decode(cursor.text())).toEqual(['0-0', '1767268800000-3', '1767268800001-0'])
  })

  it('stays short: a few bytes per buffer for ids of one hour', () => {
    const names = Array.from({ length: 32 }, (_, i) => `orders.table-${i}`)
    const set = new BufferSet(names)
    const base = 1767268800000
    // Ids up to an hour apart, small sequence numbers: busy buffers followed together.
    const hour = names.map((_, i) => `${base - i * 110_000}-${i % 3}`)
    expect(set.cursor(hour).text().length).toBeLessThanOrEqual(200)
    const second = names.map((_, i) => `${base - i * 30}-${i % 3}`)
    expect(set.cursor(second).text().length).toBeLessThanOrEqual(140)
    expect(set.cursor(names.map(() => '0-0')).text()).toHaveLength(51)
  })

  it('refuses a cursor of another set of buffers', () => {
    const text = new BufferSet(NAMES).cursor(['1-0', '2-0', '3-0']).text()
    expect(new BufferSet(['orders', 'prices']).decode(text)).toBeNull()
    expect(new BufferSet(['orders', 'prices', 'alert']).decode(text)).toBeNull()
    expect(new BufferSet([...NAMES, 'more']).decode(text)).toBeNull()
  })

  it('refuses what it did not write: malformed, damaged, or not canonical', () => {
    const set = new BufferSet(NAMES)
    const text = set.cursor(['1767268800000-0', '1767268800005-1', '0-0']).text()
    const flipped = (at: number) => `${text.slice(0, at)}${text[at] === 'A' ? 'B' : 'A'}${text.slice(at + 1)}`
    const refused = [
      '',
      'not a cursor',
      `${text}=`,
      text.replace(/^./, '+'),
      text.slice(0, -1),
      `${text}A`,
      flipped(0),
      flipped(Math.floor(text.length / 2)),
      flipped(text.length - 1),
      '1767268800000-0',
      'A'.repeat(2000),
      // Checksums right, contents not: version 2; three positions of 0-0 and one more; a varint
      // longer than it needs; a base that is not the largest ms; a position before ms 0; a varint past
      // 64 bits.
      forge(NAMES, [2, 0, 0, 0, 0]),
      forge(NAMES, [1, 0, 0, 0, 0, 0]),
      forge(NAMES, [1, 0x80, 0x00, 0, 0, 0]),
      forge(NAMES, [1, 5, 2, 0, 0, 0]),
      forge(NAMES, [1, 5, 8, 0, 0, 0]),
      forge(NAMES, [1, ...Array(9).fill(0xff), 0x02, 0, 0, 0]),
    ]
    for (const candidate of refused) expect(set.decode(candidate), candidate).toBeNull()
    // A well-formed cursor is read whoever wrote it: it names positions, and grants nothing.
    expect(set.decode(forge(NAMES, [1, 5, 1, 0, 0, 0]))).toEqual(['5-0', '0-0', '0-0'])
    expect(set.decode(forge(NAMES, [1, 5, 0, 0, 1, 7]))).toEqual(['0-0', '0-0', '5-7'])
  })
})
