import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it, onTestFinished } from 'vitest'
import { ConfigError, describeRedisUrl, EXAMPLE_SECRET_PREFIX, loadEnv } from '../src/env.js'
import { TestCertificates } from './support/redis-tls.js'

const SECRET = 'x'.repeat(32)
const valid = { REDIS_URL: 'redis://127.0.0.1:6379', SESSION_SECRET: SECRET, API_TOKEN: SECRET }

function problemsOf(source: Record<string, string | undefined>): readonly string[] {
  try {
    loadEnv(source)
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError)
    return (error as ConfigError).problems
  }
  throw new Error('expected loadEnv to throw')
}

describe('loadEnv', () => {
  it('applies the documented defaults and freezes the result', () => {
    const env = loadEnv(valid)
    expect(env).toMatchObject({
      port: 3000,
      host: '0.0.0.0',
      nodeEnv: 'development',
      logLevel: 'info',
      redisConnectTimeoutMs: 5000,
      readyTimeoutMs: 1000,
      redisCommandTimeoutMs: 2000,
      redisAppendWait: { replicas: 0, timeoutMs: 500 },
      bodyLimitBytes: 1_048_576,
      httpHeadersTimeoutMs: 10_000,
      httpRequestTimeoutMs: 30_000,
      httpKeepAliveTimeoutMs: 5000,
      shutdownDelayMs: 0,
      shutdownTimeoutMs: 30_000,
      sessionTtlSeconds: 86_400,
      bufferMaxLen: 10_000,
      sseHeartbeatMs: 15_000,
      sseRetryMs: 2000,
      sseQueueMaxEvents: 1000,
      sseQueueMaxBytes: 1_048_576,
      sseMaxStreamsPerSession: 16,
      metricsTokens: [],
      grantSecrets: [],
      grantPublicKeys: [],
      grantMaxTtlSeconds: 86_400,
      grantAudience: undefined,
      grantIssuer: undefined,
      sessionsAnonymous: true,
      devGrants: false,
      allowedOrigins: [],
      trustProxy: [],
      rateLimitSessionsPerMinute: 30,
      rateLimitAuthFailuresPerMinute: 30,
      rateLimitAppendsPerMinute: 6000,
      tracing: false,
    })
    expect(Object.isFrozen(env)).toBe(true)
    expect(Object.isFrozen(env.sessionSecrets)).toBe(true)
  })

  it('delays shutdown by 5 s by default in production only', () => {
    expect(loadEnv({ ...valid, NODE_ENV: 'production' }).shutdownDelayMs).toBe(5000)
    expect(loadEnv({ ...valid, NODE_ENV: 'production', SHUTDOWN_DELAY_MS: '0' }).shutdownDelayMs).toBe(0)
  })

  it('refuses a shutdown delay that would outlast the shutdown timeout', () => {
    expect(problemsOf({ ...valid, SHUTDOWN_DELAY_MS: '3000', SHUTDOWN_TIMEOUT_MS: '3000' })).toEqual([
      expect.stringMatching(/^SHUTDOWN_DELAY_MS must be less than SHUTDOWN_TIMEOUT_MS/),
    ])
    expect(problemsOf({ ...valid, NODE_ENV: 'production', SHUTDOWN_TIMEOUT_MS: '4000' })).toEqual([
      expect.stringMatching(/^SHUTDOWN_DELAY_MS must be less than SHUTDOWN_TIMEOUT_MS/),
    ])
  })

  it('refuses HTTP timeouts out of range, and a headers timeout not below the request timeout', () => {
    expect(
      loadEnv({
        ...valid,
        HTTP_HEADERS_TIMEOUT_MS: '2000',
        HTTP_REQUEST_TIMEOUT_MS: '60000',
        HTTP_KEEP_ALIVE_TIMEOUT_MS: '65000',
      }),
    ).toMatchObject({
      httpHeadersTimeoutMs: 2000,
      httpRequestTimeoutMs: 60_000,
      httpKeepAliveTimeoutMs: 65_000,
    })
    expect(problemsOf({ ...valid, HTTP_HEADERS_TIMEOUT_MS: '30000' })).toEqual([
      expect.stringMatching(/^HTTP_HEADERS_TIMEOUT_MS must be less than HTTP_REQUEST_TIMEOUT_MS/),
    ])
    expect(problemsOf({ ...valid, HTTP_REQUEST_TIMEOUT_MS: '5000' })).toEqual([
      expect.stringMatching(/^HTTP_HEADERS_TIMEOUT_MS must be less than HTTP_REQUEST_TIMEOUT_MS/),
    ])
    expect(problemsOf({ ...valid, HTTP_HEADERS_TIMEOUT_MS: '0', HTTP_KEEP_ALIVE_TIMEOUT_MS: '1.5' })).toEqual(
      ['HTTP_HEADERS_TIMEOUT_MS must be at least 100', 'HTTP_KEEP_ALIVE_TIMEOUT_MS must be a whole number'],
    )
  })

  it('takes an append WAIT of replicas within a timeout below the command timeout', () => {
    expect(
      loadEnv({ ...valid, REDIS_APPEND_WAIT_REPLICAS: '2', REDIS_APPEND_WAIT_TIMEOUT_MS: '250' })
        .redisAppendWait,
    ).toEqual({ replicas: 2, timeoutMs: 250 })
    expect(
      problemsOf({ ...valid, REDIS_APPEND_WAIT_REPLICAS: '-1', REDIS_APPEND_WAIT_TIMEOUT_MS: '0' }),
    ).toEqual([
      'REDIS_APPEND_WAIT_REPLICAS must be at least 0',
      'REDIS_APPEND_WAIT_TIMEOUT_MS must be at least 1',
    ])
    expect(
      problemsOf({ ...valid, REDIS_APPEND_WAIT_REPLICAS: '1', REDIS_COMMAND_TIMEOUT_MS: '500' }),
    ).toEqual([
      expect.stringMatching(/^REDIS_APPEND_WAIT_TIMEOUT_MS must be less than REDIS_COMMAND_TIMEOUT_MS/),
    ])
    // Off, the wait timeout is not read: a short command timeout alone stays valid.
    expect(loadEnv({ ...valid, REDIS_COMMAND_TIMEOUT_MS: '100' }).redisCommandTimeoutMs).toBe(100)
  })

  it('reads numbers in decimal only: hex, exponents, a sign or a blank value are refused, never guessed', () => {
    expect(loadEnv({ ...valid, PORT: ' 8080 ', BUFFER_MAX_LEN: '007' })).toMatchObject({
      port: 8080,
      bufferMaxLen: 7,
    })
    for (const value of ['0x10', '1e3', '+3000', '   ', '3000.0', '0b11', 'Infinity']) {
      expect(problemsOf({ ...valid, PORT: value }), value).toEqual(['PORT must be a whole number'])
    }
    expect(problemsOf({ ...valid, SHUTDOWN_DELAY_MS: ' ' })).toEqual([
      'SHUTDOWN_DELAY_MS must be a whole number',
    ])
    expect(problemsOf({ ...valid, PORT: '-1' })).toEqual(['PORT must be at least 0'])
  })

  it('refuses a metrics token that is also an admin token: it would read and write everything', () => {
    const metrics = 'm'.repeat(32)
    expect(problemsOf({ ...valid, API_TOKEN: `${SECRET},${metrics}`, METRICS_TOKEN: metrics })).toEqual([
      expect.stringMatching(/^METRICS_TOKEN must differ from every API_TOKEN value/),
    ])
    expect(loadEnv({ ...valid, METRICS_TOKEN: metrics }).metricsTokens).toEqual([metrics])
  })

  it('splits secret lists: the first signs, all verify', () => {
    const env = loadEnv({ ...valid, SESSION_SECRET: `${'n'.repeat(32)}, ${'o'.repeat(40)}` })
    expect(env.sessionSecrets).toEqual(['n'.repeat(32), 'o'.repeat(40)])
  })

  it('treats an empty variable as unset', () => {
    expect(loadEnv({ ...valid, PORT: '', LOG_LEVEL: '' })).toMatchObject({ port: 3000, logLevel: 'info' })
    expect(problemsOf({ ...valid, REDIS_URL: '' })).toEqual([expect.stringMatching(/^REDIS_URL is required/)])
  })

  it('lists every problem at once, each naming its variable', () => {
    const problems = problemsOf({ PORT: 'eighty', NODE_ENV: 'staging', READY_TIMEOUT_MS: '-1' })
    const named = problems.map((line) => line.split(' ')[0])
    expect(named.sort()).toEqual([
      'API_TOKEN',
      'NODE_ENV',
      'PORT',
      'READY_TIMEOUT_MS',
      'REDIS_URL',
      'SESSION_SECRET',
    ])
  })

  it('says how to start a local Redis when REDIS_URL is missing', () => {
    expect(problemsOf({ ...valid, REDIS_URL: undefined })[0]).toMatch(/npm run local/)
  })

  it.each([
    'http://localhost:6379',
    'localhost:6379',
    'redis://',
    'not a url',
    'redis://h:6379/abc',
    'redis://h:6379/999999',
  ])('rejects REDIS_URL %s', (url) => {
    expect(problemsOf({ ...valid, REDIS_URL: url })).toEqual([expect.stringMatching(/^REDIS_URL must be/)])
  })

  it('accepts a database number as the path', () => {
    expect(loadEnv({ ...valid, REDIS_URL: 'redis://127.0.0.1:6379/3' }).redisUrl).toBe(
      'redis://127.0.0.1:6379/3',
    )
    expect(loadEnv({ ...valid, REDIS_URL: 'redis://127.0.0.1:6379/' }).redisUrl).toBe(
      'redis://127.0.0.1:6379/',
    )
  })

  it('accepts rediss:// (TLS, e.g. Upstash)', () => {
    expect(loadEnv({ ...valid, REDIS_URL: 'rediss://default:pw@example.upstash.io:6379' }).redisUrl).toMatch(
      /^rediss:/,
    )
  })

  it('refuses the .env.example placeholder secrets in production only', () => {
    const placeholder = `${EXAMPLE_SECRET_PREFIX}-session-secret-replace-me-now`
    expect(loadEnv({ ...valid, SESSION_SECRET: placeholder }).sessionSecrets).toEqual([placeholder])
    expect(
      problemsOf({ ...valid, NODE_ENV: 'production', SESSION_SECRET: `${SECRET},${placeholder}` }),
    ).toEqual([expect.stringMatching(/^SESSION_SECRET still holds the placeholder from .env.example/)])
  })

  it('is safe by default in production: no anonymous sessions, and development grants refused', () => {
    expect(loadEnv({ ...valid, NODE_ENV: 'production' }).sessionsAnonymous).toBe(false)
    expect(loadEnv({ ...valid, NODE_ENV: 'production', SESSIONS_ANONYMOUS: 'true' }).sessionsAnonymous).toBe(
      true,
    )
    expect(problemsOf({ ...valid, NODE_ENV: 'production', DEV_GRANTS: 'true' })).toEqual([
      expect.stringMatching(/^DEV_GRANTS must not be true in production/),
    ])
    expect(loadEnv({ ...valid, DEV_GRANTS: 'true' }).devGrants).toBe(true)
  })

  it('refuses a public keys file that holds a private key, or keys without an allowed alg', () => {
    const file = (keys: object[]) => {
      const path = join(mkdtempSync(join(tmpdir(), 'jwks-')), 'keys.json')
      writeFileSync(path, JSON.stringify({ keys }))
      return path
    }
    const publicKey = { kty: 'OKP', crv: 'Ed25519', x: 'AAAA', alg: 'EdDSA' }
    expect(loadEnv({ ...valid, GRANT_PUBLIC_KEYS_FILE: file([publicKey]) }).grantPublicKeys).toHaveLength(1)
    expect(problemsOf({ ...valid, GRANT_PUBLIC_KEYS_FILE: file([{ ...publicKey, d: 'BBBB' }]) })).toEqual([
      expect.stringMatching(/private or symmetric key/),
    ])
    expect(problemsOf({ ...valid, GRANT_PUBLIC_KEYS_FILE: file([{ ...publicKey, alg: 'HS256' }]) })).toEqual([
      expect.stringMatching(/alg/),
    ])
  })

  it('turns tracing on with an OTLP endpoint, and refuses one that is not an http(s) URL', () => {
    const collector = 'http://otel-collector:4318'
    expect(loadEnv({ ...valid, OTEL_EXPORTER_OTLP_ENDPOINT: collector }).tracing).toBe(true)
    expect(loadEnv({ ...valid, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${collector}/v1/traces` }).tracing).toBe(
      true,
    )
    expect(loadEnv({ ...valid, OTEL_EXPORTER_OTLP_ENDPOINT: '' }).tracing).toBe(false)
    expect(
      loadEnv({ ...valid, OTEL_EXPORTER_OTLP_ENDPOINT: collector, OTEL_SDK_DISABLED: 'true' }).tracing,
    ).toBe(false)
    expect(
      problemsOf({
        ...valid,
        OTEL_EXPORTER_OTLP_ENDPOINT: 'otel-collector:4317',
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'grpc://otel-collector:4317',
      }),
    ).toEqual([
      expect.stringMatching(/^OTEL_EXPORTER_OTLP_ENDPOINT must be an http:\/\/ or https:\/\/ URL/),
      expect.stringMatching(/^OTEL_EXPORTER_OTLP_TRACES_ENDPOINT must be an http:\/\/ or https:\/\/ URL/),
    ])
  })

  it('never puts a secret value into an error', () => {
    const shortSecret = 'hunter2-too-short'
    const error = (() => {
      try {
        loadEnv({
          REDIS_URL: 'redis://:pa55word@h:1/x y',
          SESSION_SECRET: `${SECRET},${shortSecret}`,
          API_TOKEN: shortSecret,
        })
      } catch (caught) {
        return caught as ConfigError
      }
    })()
    expect(error?.problems.map((line) => line.split(' ')[0]).sort()).toEqual([
      'API_TOKEN',
      'REDIS_URL',
      'SESSION_SECRET',
    ])
    expect(error?.message).not.toContain('pa55word')
    expect(error?.message).not.toContain(shortSecret)
    expect(error?.message).not.toContain(SECRET)
  })
})

describe('describeRedisUrl', () => {
  it('redacts the password and keeps host and port', () => {
    expect(describeRedisUrl('rediss://default:s3cret@cache.example:6380/2')).toBe(
      'rediss://default:***@cache.example:6380/2',
    )
    expect(describeRedisUrl('redis://127.0.0.1:6379')).toBe('redis://127.0.0.1:6379')
  })

  it("redacts each of a cluster's seeds", () => {
    expect(describeRedisUrl('redis://:pw@a:7000, redis://:pw@b:7001')).toBe(
      'redis://:***@a:7000,redis://:***@b:7001',
    )
  })
})

describe('loadEnv: Redis topologies (REDIS_MODE)', () => {
  const sentinel = {
    ...valid,
    REDIS_MODE: 'sentinel',
    REDIS_URL: 'rediss://app:pw@mymaster/2',
    REDIS_SENTINELS: '10.0.0.1:26380, sentinel-2, [::1]:26381',
    REDIS_SENTINEL_NAME: 'mymaster',
  }

  it('is standalone by default, with no sentinel or TLS settings', () => {
    expect(loadEnv(valid)).toMatchObject({
      redisMode: 'standalone',
      redisSentinels: [],
      redisSentinelName: undefined,
      redisTlsCa: undefined,
      redisTlsServername: undefined,
    })
  })

  it('sentinel: parses the sentinels (port 26379 when left out) and their credentials', () => {
    expect(loadEnv({ ...sentinel, REDIS_SENTINEL_PASSWORD: 's3cret' })).toMatchObject({
      redisMode: 'sentinel',
      redisSentinels: [
        { host: '10.0.0.1', port: 26380 },
        { host: 'sentinel-2', port: 26379 },
        { host: '::1', port: 26381 },
      ],
      redisSentinelName: 'mymaster',
      redisSentinelPassword: 's3cret',
    })
  })

  it('sentinel: the sentinels and the master name are required', () => {
    const { REDIS_SENTINELS: _sentinels, REDIS_SENTINEL_NAME: _name, ...bare } = sentinel
    expect(problemsOf(bare)).toEqual([
      expect.stringMatching(/^REDIS_SENTINELS is required with REDIS_MODE=sentinel/),
      expect.stringMatching(/^REDIS_SENTINEL_NAME is required with REDIS_MODE=sentinel/),
    ])
    expect(problemsOf({ ...sentinel, REDIS_SENTINELS: 'a:1,user@b:2' })).toEqual([
      expect.stringMatching(/^REDIS_SENTINELS.* each value must be host:port/),
    ])
  })

  it('refuses sentinel variables outside sentinel mode: they would be ignored', () => {
    expect(problemsOf({ ...valid, REDIS_SENTINEL_NAME: 'mymaster', REDIS_SENTINEL_PASSWORD: 'x' })).toEqual([
      expect.stringMatching(/^REDIS_SENTINEL_NAME is only read with REDIS_MODE=sentinel/),
      expect.stringMatching(/^REDIS_SENTINEL_PASSWORD is only read with REDIS_MODE=sentinel/),
    ])
  })

  it('cluster: takes a list of seeds sharing scheme and credentials, database 0 only', () => {
    const seeds = 'redis://:pw@10.0.0.1:7000,redis://:pw@10.0.0.2:7000'
    expect(loadEnv({ ...valid, REDIS_MODE: 'cluster', REDIS_URL: seeds }).redisUrl).toBe(seeds)
    expect(problemsOf({ ...valid, REDIS_URL: seeds })).toEqual([
      expect.stringMatching(/^REDIS_URL lists several URLs: only REDIS_MODE=cluster/),
    ])
    expect(problemsOf({ ...valid, REDIS_MODE: 'cluster', REDIS_URL: 'redis://h:7000/1' })).toEqual([
      expect.stringMatching(/^REDIS_URL names a database other than 0/),
    ])
    expect(
      problemsOf({ ...valid, REDIS_MODE: 'cluster', REDIS_URL: 'redis://:pw@a:7000,rediss://:pw@b:7000' }),
    ).toEqual([expect.stringMatching(/^REDIS_URL seed nodes must share one scheme/)])
    expect(problemsOf({ ...valid, REDIS_MODE: 'cluster', REDIS_URL: 'redis://a:7000,b:7000' })).toEqual([
      expect.stringMatching(/^REDIS_URL must be/),
    ])
  })

  it('refuses an unknown mode', () => {
    expect(problemsOf({ ...valid, REDIS_MODE: 'replicated' })).toEqual([
      expect.stringMatching(/^REDIS_MODE must be one of standalone, sentinel, cluster/),
    ])
  })

  describe('TLS', () => {
    const dir = mkdtempSync(join(tmpdir(), 'redis-ca-'))
    afterAll(() => rmSync(dir, { recursive: true, force: true }))
    const caFile = join(dir, 'ca.pem')
    // PEM armour around something that is not a certificate (a truncated one).
    writeFileSync(
      caFile,
      [
        '-----BEGIN CERTIFICATE-----',
        'MIIBfDCCASOgAwIBAgIUJ5nJ9Tqk3bxEwB3ZbdD0Zyn3n8UwCgYIKoZIzj0EAwIw',
        'FDESMBAGA1UEAwwJdGVzdCByb290MB4XDTI2MDEwMTAwMDAwMFoXDTM2MDEwMTAw',
        'MDAwMFowFDESMBAGA1UEAwwJdGVzdCByb290MFkwEwYHKoZIzj0CAQYIKoZIzj0D',
        'AQcDQgAE',
        '-----END CERTIFICATE-----',
      ].join('\n'),
    )
    const tls = { ...valid, REDIS_URL: 'rediss://redis.internal:6380' }

    it('reads the CA file, and takes a server name', async () => {
      const certificates = await TestCertificates.create()
      onTestFinished(() => certificates.remove())
      const real = certificates.caFile
      const env = loadEnv({ ...tls, REDIS_TLS_CA_FILE: real, REDIS_TLS_SERVERNAME: 'redis.internal' })
      expect(env.redisTlsCa).toMatch(/^-----BEGIN CERTIFICATE-----/)
      expect(env.redisTlsServername).toBe('redis.internal')
    })

    it('refuses a CA file that does not exist, or holds no valid PEM certificate', () => {
      expect(problemsOf({ ...tls, REDIS_TLS_CA_FILE: join(dir, 'missing.pem') })).toEqual([
        expect.stringMatching(/^REDIS_TLS_CA_FILE cannot be read \(ENOENT\)/),
      ])
      expect(problemsOf({ ...tls, REDIS_TLS_CA_FILE: caFile })).toEqual([
        expect.stringMatching(/^REDIS_TLS_CA_FILE holds no PEM certificate/),
      ])
    })

    it('refuses TLS settings without rediss://, and an IP address as the server name', () => {
      expect(
        problemsOf({ ...valid, REDIS_TLS_CA_FILE: caFile, REDIS_TLS_SERVERNAME: 'redis.internal' }),
      ).toEqual([
        'REDIS_TLS_CA_FILE needs TLS: a rediss:// REDIS_URL',
        'REDIS_TLS_SERVERNAME needs TLS: a rediss:// REDIS_URL',
      ])
      expect(problemsOf({ ...tls, REDIS_TLS_SERVERNAME: '10.0.0.5' })).toEqual([
        expect.stringMatching(/^REDIS_TLS_SERVERNAME must be a host name/),
      ])
    })
  })
})
