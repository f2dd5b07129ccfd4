import { afterAll, describe, expect, it } from 'vitest'
import { EXIT_CODES } from '../../src/process/exit-codes.js'
import { rawTestEnv } from '../support/env.js'
import { freePort } from '../support/net.js'
import { SENTINEL_MASTER_NAME, TestSentinelSet } from '../support/redis-sentinel.js'
import { EXIT_AFTER_BUDGET_SLACK_MS, spawnsServices, TIME_BOUNDED } from '../support/service-process.js'

/**
 * The startup contract with REDIS_MODE=sentinel, on the real entry point and a real Sentinel set (one
 * primary, one replica, three sentinels).
 */

/** The budget of the cases that must fail; those that succeed get ten times as much, for a loaded machine. */
const BUDGET_MS = 1000
/** A topology's client takes longer to set up than a single connection; more so on a busy machine. */
const LISTEN_WITHIN_MS = 20_000
const failFast = { REDIS_CONNECT_TIMEOUT_MS: String(BUDGET_MS) }
const start = spawnsServices()
const sentinels = await TestSentinelSet.start()
afterAll(() => sentinels.stop())

/** REDIS_URL gives the data nodes' scheme and credentials; its host, the master name by convention, is not used. */
const sentinelEnv = (overrides: Record<string, string> = {}) =>
  rawTestEnv(`redis://${SENTINEL_MASTER_NAME}`, {
    REDIS_MODE: 'sentinel',
    REDIS_SENTINELS: sentinels.sentinelAddresses,
    REDIS_SENTINEL_NAME: SENTINEL_MASTER_NAME,
    PORT: '0',
    HOST: '127.0.0.1',
    REDIS_CONNECT_TIMEOUT_MS: String(BUDGET_MS * 10),
    ...overrides,
  })

describe('REDIS_MODE=sentinel at startup', TIME_BOUNDED, () => {
  it('the sentinels name a master that answers: listening and ready, role master', async () => {
    const service = start(sentinelEnv())
    const base = await service.listening(LISTEN_WITHIN_MS)
    const ready = await fetch(`${base}/readyz`)
    expect(ready.status).toBe(200)
    expect(await ready.json()).toMatchObject({
      status: 'pass',
      checks: { 'redis:role': [expect.objectContaining({ observedValue: 'master' })] },
    })
  })

  it('no sentinel answering: exit 69 within the budget, "no sentinel answered" with each one\'s reason', async () => {
    const ports = [await freePort(), await freePort()]
    const service = start(
      sentinelEnv({ ...failFast, REDIS_SENTINELS: ports.map((port) => `127.0.0.1:${port}`).join(',') }),
    )
    const exit = await service.exited
    expect(exit.code).toBe(EXIT_CODES.unavailable)
    expect(exit.elapsedMs).toBeGreaterThanOrEqual(BUDGET_MS)
    expect(exit.ownMs).toBeLessThan(BUDGET_MS + EXIT_AFTER_BUDGET_SLACK_MS)
    expect(service.stderr).toMatch(/last reason: no sentinel answered \(.*ECONNREFUSED/)
    expect(service.stderr).toContain(`127.0.0.1:${ports[1]}`)
  })

  it('rediss:// to sentinels without TLS: exit 69 within the budget, "no sentinel answered" naming each one', async () => {
    const service = start({ ...sentinelEnv(failFast), REDIS_URL: `rediss://${SENTINEL_MASTER_NAME}` })
    const exit = await service.exited
    expect(exit.code).toBe(EXIT_CODES.unavailable)
    expect(exit.ownMs).toBeLessThan(BUDGET_MS + EXIT_AFTER_BUDGET_SLACK_MS)
    expect(service.stderr).toMatch(/last reason: no sentinel answered \(.*no answer in time .*rediss:\/\//)
    expect(service.stderr).toContain(sentinels.sentinels[2]?.address)
  })

  it('a master name the sentinels do not know: exit 69 within the budget, "master name unknown"', async () => {
    const service = start(sentinelEnv({ ...failFast, REDIS_SENTINEL_NAME: 'not-monitored' }))
    const exit = await service.exited
    expect(exit.code).toBe(EXIT_CODES.unavailable)
    expect(exit.ownMs).toBeLessThan(BUDGET_MS + EXIT_AFTER_BUDGET_SLACK_MS)
    expect(service.stderr).toMatch(/last reason: master name unknown: .*"not-monitored"/)
  })

  it('a master that refuses REDIS_URL\'s credentials: exit 69 at once, "the master at HOST:PORT refused the connection: WRONGPASS"', async () => {
    // The sentinels answer; the master they name refuses the login (node-redis would retry it silently).
    const service = start({ ...sentinelEnv(), REDIS_URL: `redis://nobody:wrong@${SENTINEL_MASTER_NAME}` })
    const exit = await service.exited
    expect(exit.code).toBe(EXIT_CODES.unavailable)
    expect(exit.ownMs).toBeLessThan(BUDGET_MS * 5)
    expect(service.stderr).toContain('refused the connection (exit 69)')
    expect(service.stderr).toContain(
      `the master at ${await sentinels.masterAddress()} refused the connection: WRONGPASS`,
    )
  })

  it('sentinel mode without REDIS_SENTINEL_NAME: exit 78, before any connection', async () => {
    const { REDIS_SENTINEL_NAME: _name, ...withoutName } = sentinelEnv()
    const service = start(withoutName)
    const exit = await service.exited
    expect(exit.code).toBe(EXIT_CODES.config)
    expect(service.stderr).toMatch(/REDIS_SENTINEL_NAME is required with REDIS_MODE=sentinel/)
  })
})
