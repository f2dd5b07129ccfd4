import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { EXIT_CODES } from '../../src/process/exit-codes.js'
import { rawTestEnv } from '../support/env.js'
import { redisCli } from '../support/redis-cluster.js'
import type { RedisProcess } from '../support/redis-process.js'
import { startTlsRedis, TestCertificates } from '../support/redis-tls.js'
import { EXIT_AFTER_BUDGET_SLACK_MS, spawnsServices, TIME_BOUNDED } from '../support/service-process.js'

/**
 * TLS at startup (rediss://), on the real entry point and TLS-only `redis-server`s whose certificates a
 * private CA made with openssl signed: the certificate's chain and name are verified, by default.
 */

/** The budget of the cases that must fail; those that succeed get ten times as much, for a loaded machine. */
const BUDGET_MS = 1000
/** A topology's client takes longer to set up than a single connection; more so on a busy machine. */
const LISTEN_WITHIN_MS = 20_000
const failFast = { REDIS_CONNECT_TIMEOUT_MS: String(BUDGET_MS) }
const start = spawnsServices()
const certificates = await TestCertificates.create()
/** Its certificate names localhost and 127.0.0.1. */
const localhost = await startTlsRedis(
  certificates,
  await certificates.issue('localhost', ['DNS:localhost', 'IP:127.0.0.1']),
)
/** Its certificate names redis.internal only: the wrong name for localhost, and for its IP. */
const internal = await startTlsRedis(
  certificates,
  await certificates.issue('internal', ['DNS:redis.internal']),
)
/**
 * A cluster of one TLS node that owns every slot, whose certificate names localhost only: it announces
 * itself as 127.0.0.1, so a seed reached as localhost leads to a node the name check refuses.
 */
const clusterNode = await startTlsRedis(
  certificates,
  await certificates.issue('cluster', ['DNS:localhost']),
  ['cluster-enabled yes', 'tls-cluster yes', 'cluster-announce-ip 127.0.0.1'],
)
const tlsCli = ['--tls', '--cacert', certificates.caFile, '-h', 'localhost', '-p', String(clusterNode.port)]
await redisCli([...tlsCli, 'cluster', 'addslotsrange', '0', '16383'])
while (!(await redisCli([...tlsCli, 'cluster', 'info'])).includes('cluster_state:ok')) {
  await new Promise((resolve) => setTimeout(resolve, 50))
}
afterAll(async () => {
  await Promise.all([localhost.stop(), internal.stop(), clusterNode.stop()])
  certificates.remove()
})

const tlsEnv = (host: string, server: RedisProcess, overrides: Record<string, string> = {}) =>
  rawTestEnv(`rediss://${host}:${server.port}`, {
    REDIS_TLS_CA_FILE: certificates.caFile,
    PORT: '0',
    HOST: '127.0.0.1',
    REDIS_CONNECT_TIMEOUT_MS: String(BUDGET_MS * 10),
    ...overrides,
  })

describe('TLS (rediss://) at startup', TIME_BOUNDED, () => {
  it('the private CA and a certificate for the host: listening and ready', async () => {
    const service = start(tlsEnv('localhost', localhost))
    const base = await service.listening(LISTEN_WITHIN_MS)
    expect((await fetch(`${base}/readyz`)).status).toBe(200)
  })

  it('a certificate for another name: exit 69, saying the name does not match', async () => {
    const service = start(tlsEnv('localhost', internal, failFast))
    const exit = await service.exited
    expect(exit.code).toBe(EXIT_CODES.unavailable)
    expect(exit.ownMs).toBeLessThan(BUDGET_MS + EXIT_AFTER_BUDGET_SLACK_MS)
    expect(service.stderr).toMatch(/last reason: .*does not match certificate's altnames/)
  })

  it('without the private CA: exit 69, the chain is not trusted', async () => {
    const { REDIS_TLS_CA_FILE: _ca, ...withoutCa } = tlsEnv('localhost', localhost, failFast)
    const service = start(withoutCa)
    expect((await service.exited).code).toBe(EXIT_CODES.unavailable)
    expect(service.stderr).toMatch(/last reason: .*self-signed certificate in certificate chain/)
  })

  it('reached by IP with REDIS_TLS_SERVERNAME, the name its certificate carries: ready', async () => {
    const service = start(tlsEnv('127.0.0.1', internal, { REDIS_TLS_SERVERNAME: 'redis.internal' }))
    const base = await service.listening(LISTEN_WITHIN_MS)
    expect((await fetch(`${base}/readyz`)).status).toBe(200)
  })

  it('reached by IP without it: exit 69', async () => {
    const service = start(tlsEnv('127.0.0.1', internal, failFast))
    expect((await service.exited).code).toBe(EXIT_CODES.unavailable)
    expect(service.stderr).toMatch(/last reason: .*IP: 127\.0\.0\.1 is not in the cert's list/)
  })

  it('cluster: a node announced by an address its certificate does not name: exit 69 naming the node and the name mismatch', async () => {
    const service = start(tlsEnv('localhost', clusterNode, { ...failFast, REDIS_MODE: 'cluster' }))
    const exit = await service.exited
    expect(exit.code).toBe(EXIT_CODES.unavailable)
    expect(exit.ownMs).toBeLessThan(BUDGET_MS + EXIT_AFTER_BUDGET_SLACK_MS)
    expect(service.stderr).toMatch(
      new RegExp(
        `last reason: the node at 127\\.0\\.0\\.1:${clusterNode.port} does not answer: Hostname/IP does not match`,
      ),
    )
  })

  it('cluster: the same node with REDIS_TLS_SERVERNAME, the name its certificate carries: ready', async () => {
    const service = start(
      tlsEnv('127.0.0.1', clusterNode, { REDIS_MODE: 'cluster', REDIS_TLS_SERVERNAME: 'localhost' }),
    )
    const base = await service.listening(LISTEN_WITHIN_MS)
    expect((await fetch(`${base}/readyz`)).status).toBe(200)
  })

  it('a CA file that does not exist, or is not PEM: exit 78, naming REDIS_TLS_CA_FILE', async () => {
    const missing = start(
      tlsEnv('localhost', localhost, { REDIS_TLS_CA_FILE: join(certificates.dir, 'nope.crt') }),
    )
    expect((await missing.exited).code).toBe(EXIT_CODES.config)
    expect(missing.stderr).toMatch(/REDIS_TLS_CA_FILE cannot be read \(ENOENT\)/)

    const notPem = join(certificates.dir, 'not-pem.crt')
    writeFileSync(notPem, 'not a certificate\n')
    const invalid = start(tlsEnv('localhost', localhost, { REDIS_TLS_CA_FILE: notPem }))
    expect((await invalid.exited).code).toBe(EXIT_CODES.config)
    expect(invalid.stderr).toMatch(/REDIS_TLS_CA_FILE holds no PEM certificate/)
  })
})
