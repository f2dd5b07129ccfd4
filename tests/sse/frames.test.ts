import { describe, expect, it } from 'vitest'
import { encodeFrame, HEARTBEAT_FRAME } from '../../src/sse/frames.js'

const text = (frame: Buffer) => frame.toString('utf8')

describe('encodeFrame', () => {
  it('writes the fields in the order a client reads them, and ends the block with a blank line', () => {
    expect(text(encodeFrame({ retry: 2000, id: '1-0', event: 'tick', data: '{"a":1}' }))).toBe(
      'retry: 2000\nid: 1-0\nevent: tick\ndata: {"a":1}\n\n',
    )
    expect(text(encodeFrame({ id: '' }))).toBe('id: \n\n')
    expect(text(HEARTBEAT_FRAME)).toBe(': heartbeat\n\n')
  })

  it('splits data with line breaks of any kind into data lines, which a client joins back with \\n', () => {
    expect(text(encodeFrame({ data: 'a\nb\r\nc\rd' }))).toBe('data: a\ndata: b\ndata: c\ndata: d\n\n')
  })

  it('refuses a line break in a single-line field, which would forge another field', () => {
    expect(() => encodeFrame({ id: '1-0\nevent: x' })).toThrow(TypeError)
    expect(() => encodeFrame({ event: 'a\rb' })).toThrow(TypeError)
    expect(() => encodeFrame({ comment: 'x\n\ndata: y' })).toThrow(TypeError)
  })
})
