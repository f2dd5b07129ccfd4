import { describe, expect, it } from 'vitest'
import { Deadline, DeadlineExceededError } from '../../src/lib/deadline.js'

const never = () => new Promise<never>(() => {})
const resolveAfter = <T>(ms: number, value: T) =>
  new Promise<T>((resolve) => setTimeout(() => resolve(value), ms))

describe('Deadline', () => {
  it('fails work still pending at its deadline, and only that work', async () => {
    const deadline = new Deadline(150)
    const started = performance.now()
    const [early, hung, late] = await Promise.allSettled([
      deadline.within(() => resolveAfter(10, 'early')),
      deadline.within(never),
      deadline.within(() => resolveAfter(100, 'late')),
    ])
    expect(early).toEqual({ status: 'fulfilled', value: 'early' })
    expect(late).toEqual({ status: 'fulfilled', value: 'late' })
    expect(hung.status === 'rejected' && hung.reason).toBeInstanceOf(DeadlineExceededError)
    expect(performance.now() - started).toBeGreaterThanOrEqual(145)
    expect(performance.now() - started).toBeLessThan(400)
  })

  it('gives all work the full timeout, however long the queue has been busy', async () => {
    const deadline = new Deadline(200)
    const first = deadline.within(never).catch((error: unknown) => error)
    await resolveAfter(150, null)
    // Started 150 ms after the first: its deadline is 200 ms from now, not the first's.
    const second = deadline.within(() => resolveAfter(150, 'second'))
    expect(await first).toBeInstanceOf(DeadlineExceededError)
    expect(await second).toBe('second')
  })

  it('rejects with what `expired` makes, and maps failures with `failed`', async () => {
    class Late extends Error {}
    const deadline = new Deadline(20, {
      expired: (ms) => new Late(`late after ${ms}`),
      failed: (error) => new Error(`mapped: ${(error as Error).message}`),
    })
    await expect(deadline.within(never)).rejects.toThrow(new Late('late after 20'))
    await expect(deadline.within(() => Promise.reject(new Error('boom')))).rejects.toThrow('mapped: boom')
  })

  it('turns work that throws before it returns a promise into a rejection', async () => {
    const deadline = new Deadline(1000)
    const error = new TypeError('thrown synchronously')
    await expect(
      deadline.within(() => {
        throw error
      }),
    ).rejects.toBe(error)
  })
})
