import { describe, it } from 'vitest'
import { describeReport, expectFaultContract, runRedisFaults } from './support/redis-faults.js'

/**
 * Redis crash under load (issue 10). A redis-server with `appendonly yes` and `appendfsync always` is
 * killed with SIGKILL and restarted on the same port and directory, three times, while four clients append
 * over keep-alive connections and three SSE subscribers follow the buffer. Expected: every 201 is readable
 * afterwards; every failed append is a 503 within REDIS_COMMAND_TIMEOUT_MS + 500 ms, never a 500 or a hang;
 * /readyz fails within 2 s of the kill and passes within 2 s of Redis answering again; every subscriber
 * gets every acknowledged item exactly once and in order; the service never exits; RSS stays flat.
 */
describe('Redis crash (SIGKILL, restart on the same port and directory) under load', () => {
  it('loses no acknowledged append, answers 503 quickly, recovers readiness, and keeps subscribers exact', async () => {
    const report = await runRedisFaults(
      {
        inject: (redis) => redis.kill(),
        recover: (redis) => redis.restart(),
        downMs: 2500,
      },
      Number(process.env.FAULT_ROUNDS ?? 3),
    )
    console.log(describeReport('Redis crash', report))

    expectFaultContract(report, { fault: 'kill', recovery: 'restart' })
  })
})
