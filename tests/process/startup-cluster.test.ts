import { afterAll, describe, expect, it } from 'vitest'
import { EXIT_CODES } from '../../src/process/exit-codes.js'
import { rawTestEnv } from '../support/env.js'
import { freePort } from '../support/net.js'
import { TestRedisCluster } from '../support/redis-cluster.js'
import { EXIT_AFTER_BUDGET_SLACK_MS, spawnsServices, TIME_BOUNDED } from '../support/service-process.js'

/** The startup contract with REDIS_MODE=cluster, on the real entry point and a real three-master cluster. */

/** The budget of the cases that must fail; those that succeed get ten times as much, for a loaded machine. */
const BUDGET_MS = 1000
/** A topology's client takes longer to set up than a single connection; more so on a busy machine. */
const LISTEN_WITHIN_MS = 20_000
const start = spawnsServices()
const cluster = await TestRedisCluster.start()
const lonely = await TestRedisCluster.lonelyNode()
afterAll(() => Promise.all([cluster.stop(), lonely.stop()]))

const failFast = { REDIS_CONNECT_TIMEOUT_MS: String(BUDGET_MS) }
const clusterEnv = (redisUrl: string, overrides: Record<string, string> = {}) =>
  rawTestEnv(redisUrl, {
    REDIS_MODE: 'cluster',
    PORT: '0',
    HOST: '127.0.0.1',
    REDIS_CONNECT_TIMEOUT_MS: String(BUDGET_MS * 10),
    ...overrides,
  })

describe('REDIS_MODE=cluster at startup', TIME_BOUNDED, () => {
  it('one seed of a healthy cluster: listening and ready', async () => {
    const service = start(clusterEnv(cluster.url))
    const base = await service.listening(LISTEN_WITHIN_MS)
    const ready = await fetch(`${base}/readyz`)
    expect(ready.status).toBe(200)
    expect(await ready.json()).toMatchObject({ status: 'pass' })
  })

  it('a list of seeds whose first is closed: the next one is used', async () => {
    const service = start(clusterEnv(`redis://127.0.0.1:${await freePort()},${cluster.seedUrls}`))
    const base = await service.listening(LISTEN_WITHIN_MS)
    expect((await fetch(`${base}/readyz`)).status).toBe(200)
  })

  it('a seed that serves no slot: exit 69 within the budget, "the cluster is not ok"', async () => {
    const service = start(clusterEnv(`redis://${lonely.address}`, failFast))
    const exit = await service.exited
    expect(exit.code).toBe(EXIT_CODES.unavailable)
    expect(exit.ownMs).toBeLessThan(BUDGET_MS + EXIT_AFTER_BUDGET_SLACK_MS)
    expect(service.stderr).toMatch(/last reason: the cluster is not ok \(.*cluster_state:fail/)
  })

  it('a seed that refuses REDIS_URL\'s credentials: exit 69 at once, "the seed at HOST:PORT refused the connection: WRONGPASS"', async () => {
    const [seed] = cluster.nodes
    const service = start(clusterEnv(`redis://nobody:wrong@${seed?.address}`))
    const exit = await service.exited
    expect(exit.code).toBe(EXIT_CODES.unavailable)
    expect(exit.ownMs).toBeLessThan(BUDGET_MS * 5)
    expect(service.stderr).toContain('refused the connection (exit 69)')
    expect(service.stderr).toContain(`the seed at ${seed?.address} refused the connection: WRONGPASS`)
  })

  it('closed seeds: exit 69 within the budget, "no seed node answered" with each one\'s reason', async () => {
    const ports = [await freePort(), await freePort()]
    const service = start(clusterEnv(ports.map((port) => `redis://127.0.0.1:${port}`).join(','), failFast))
    const exit = await service.exited
    expect(exit.code).toBe(EXIT_CODES.unavailable)
    expect(exit.elapsedMs).toBeGreaterThanOrEqual(BUDGET_MS)
    expect(exit.ownMs).toBeLessThan(BUDGET_MS + EXIT_AFTER_BUDGET_SLACK_MS)
    expect(service.stderr).toMatch(/last reason: no seed node answered \(.*ECONNREFUSED/)
    expect(service.stderr).toContain(`127.0.0.1:${ports[1]}`)
  })

  it('rediss:// to seeds without TLS: exit 69 within the budget, "no seed node answered" naming each one', async () => {
    const service = start(clusterEnv(cluster.url.replace('redis://', 'rediss://'), failFast))
    const exit = await service.exited
    expect(exit.code).toBe(EXIT_CODES.unavailable)
    expect(exit.ownMs).toBeLessThan(BUDGET_MS + EXIT_AFTER_BUDGET_SLACK_MS)
    expect(service.stderr).toMatch(/last reason: no seed node answered \(.*no answer in time .*rediss:\/\//)
  })

  it('a seed list in standalone mode is a configuration error: exit 78', async () => {
    const service = start(clusterEnv(cluster.seedUrls, { REDIS_MODE: 'standalone' }))
    expect((await service.exited).code).toBe(EXIT_CODES.config)
    expect(service.stderr).toMatch(/REDIS_URL lists several URLs: only REDIS_MODE=cluster/)
  })
})
