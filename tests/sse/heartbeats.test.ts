import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { Heartbeats, TICKS_PER_PERIOD } from '../../src/sse/heartbeats.js'

describe('Heartbeats (one ticker per app)', () => {
  beforeEach(() => {
    vi.useFakeTimers()
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  it('ticks every stream every quarter period while any is registered, and stops when none is', () => {
    const heartbeats = new Heartbeats(1000)
    const a = { tick: vi.fn() }
    const b = { tick: vi.fn() }
    heartbeats.add(a)
    heartbeats.add(b)
    vi.advanceTimersByTime(1000)
    expect(a.tick).toHaveBeenCalledTimes(TICKS_PER_PERIOD)
    expect(b.tick).toHaveBeenCalledTimes(TICKS_PER_PERIOD)
    heartbeats.delete(a)
    vi.advanceTimersByTime(1000)
    expect(a.tick).toHaveBeenCalledTimes(TICKS_PER_PERIOD)
    expect(b.tick).toHaveBeenCalledTimes(2 * TICKS_PER_PERIOD)
    heartbeats.delete(b)
    expect(vi.getTimerCount()).toBe(0)
  })
})
