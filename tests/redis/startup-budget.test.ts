import { describe, expect, it } from 'vitest'
import { DeadlineExceededError } from '../../src/lib/deadline.js'
import { StartupBudget } from '../../src/redis/startup-budget.js'

/** A round of startup questions (to sentinels or seeds) as Promise.allSettled gives it. */
const expired = (): PromiseRejectedResult => ({ status: 'rejected', reason: new DeadlineExceededError(10) })
const refused = (): PromiseRejectedResult => ({
  status: 'rejected',
  reason: new Error('connect ECONNREFUSED'),
})

describe('StartupBudget.cutShort', () => {
  it('on the first attempt, a round the budget cut short is reported as such: there is nothing better to say', () => {
    const budget = new StartupBudget(1000, 'test')
    expect(budget.cutShort([expired(), expired()])).toBeUndefined()
  })

  it('after an attempt that failed for a reason of its own, it keeps that reason', () => {
    const budget = new StartupBudget(1000, 'test')
    budget.note('the master at 127.0.0.1:1 does not answer: Hostname/IP does not match')
    expect(budget.cutShort([expired(), expired()])).toBeInstanceOf(DeadlineExceededError)
    // A round where some question failed on its own says that instead.
    expect(budget.cutShort([expired(), refused()])).toBeUndefined()
  })
})
