import { describe, expect, it } from 'vitest'
import {
  COMMAND_TIMEOUT_MS,
  describeReport,
  expectStableMemory,
  runRedisFaults,
} from './support/redis-faults.js'

/**
 * Redis frozen under load (issue 10): SIGSTOP for longer than REDIS_COMMAND_TIMEOUT_MS, then SIGCONT,
 * twice, under the same load as the crash suite. The connections stay open and nothing is answered, the
 * case a reconnect cannot detect. The same expectations hold: 503 within the command timeout + 500 ms,
 * /readyz 503 within 2 s and 200 within 2 s of SIGCONT, nothing acknowledged lost, subscribers exact.
 */
describe('Redis frozen (SIGSTOP, then SIGCONT) under load', () => {
  it('answers 503 within the command timeout, recovers, and loses nothing acknowledged', async () => {
    const report = await runRedisFaults(
      {
        inject: async (redis) => redis.freeze(),
        recover: async (redis) => redis.thaw(),
        downMs: COMMAND_TIMEOUT_MS + 1500,
      },
      2,
    )
    console.log(describeReport('Redis frozen', report))

    expect(report.serviceExit).toBeUndefined()
    expect(report.badReplies).toEqual([])
    expect(report.missingFromBuffer).toEqual([])
    expect(report.subscriberProblems).toEqual([])
    expect(report.slowest503Ms).toBeLessThanOrEqual(COMMAND_TIMEOUT_MS + 500)
    for (const [index, round] of report.rounds.entries()) {
      expect(round.failed, `round ${index + 1}: appends that failed while Redis was frozen`).toBeGreaterThan(
        0,
      )
      expect(round.readyFailMs, `round ${index + 1}: /readyz 503 after SIGSTOP`).toBeLessThanOrEqual(2000)
      expect(round.readyBackMs, `round ${index + 1}: /readyz 200 after SIGCONT`).toBeLessThanOrEqual(2000)
    }
    expectStableMemory(report)
  })
})
