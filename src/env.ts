import { X509Certificate } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { isIP } from 'node:net'
import { z } from 'zod'

/**
 * Configuration: the one place that knows the service's environment variables.
 *
 * `loadEnv(source)` validates a plain record (main.ts passes `process.env`) and returns a frozen, typed
 * config, or throws a {@link ConfigError} that lists every problem at once. Messages name the variable and
 * the rule, never the value: SESSION_SECRET, API_TOKEN, the password inside REDIS_URL and
 * REDIS_SENTINEL_PASSWORD are secrets.
 */

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const
const NODE_ENVS = ['development', 'test', 'production'] as const
const MIN_SECRET_LENGTH = 32
/** Redis's `databases` is 16 by default; larger values are a server setting, so only nonsense is refused. */
const MAX_DATABASE = 65_535
/** How the example secrets in .env.example begin. */
export const EXAMPLE_SECRET_PREFIX = 'dev-only-placeholder'

// `KEY=` in an env file means "not set", so an empty string falls back to the default.
const unsetIfEmpty = (value: unknown) => (value === '' ? undefined : value)

// Decimal digits only (a sign allowed, so that -1 reads "must be at least"): Number() alone would also take
// '0x10', '1e3' or '+5', and a blank ' ' as 0 (PORT=' ' would bind a random port).
const DECIMAL_INTEGER = /^-?\d+$/
const decimal = (value: unknown) =>
  typeof value === 'string' ? (DECIMAL_INTEGER.test(value.trim()) ? Number(value) : Number.NaN) : value

const wholeNumber = (min: number, max: number) =>
  z.preprocess(
    decimal,
    z
      .number({ error: 'must be a whole number' })
      .int({ error: 'must be a whole number' })
      .min(min, { error: `must be at least ${min}` })
      .max(max, { error: `must be at most ${max}` }),
  )

/** A whole number in [min, max], `fallback` when unset. */
const integer = (min: number, max: number, fallback: number) =>
  z.preprocess((value) => unsetIfEmpty(value) ?? fallback, wholeNumber(min, max))

const secretList = (hint: string) =>
  z.preprocess(
    unsetIfEmpty,
    z
      .string({ error: `is required: ${hint}` })
      .min(1, { error: `is required: ${hint}` })
      .transform((raw) => raw.split(',').map((part) => part.trim()))
      .refine((parts) => parts.every((part) => part.length >= MIN_SECRET_LENGTH), {
        error: `each comma-separated value must be at least ${MIN_SECRET_LENGTH} characters: ${hint}`,
      }),
  )

/** An optional secret list: unset is an empty list. */
const optionalSecretList = (hint: string) =>
  z.preprocess(
    (value) => unsetIfEmpty(value) ?? [],
    z.union([z.array(z.string()).length(0), secretList(hint)]),
  )

/** A comma-separated list of plain values; unset is empty. */
const commaList = z.preprocess(
  (value) =>
    typeof value === 'string'
      ? value
          .split(',')
          .map((part) => part.trim())
          .filter(Boolean)
      : (value ?? []),
  z.array(z.string()),
)

const boolean = z.preprocess(
  unsetIfEmpty,
  z
    .enum(['true', 'false'], { error: 'must be true or false' })
    .transform((value) => value === 'true')
    .optional(),
)

/** Browser origins as `scheme://host[:port]`, exactly as a browser sends them in `Origin`. */
const origins = commaList.pipe(
  z.array(
    z.string().refine(
      (raw) => {
        try {
          const url = new URL(raw)
          return (url.protocol === 'https:' || url.protocol === 'http:') && url.origin === raw
        } catch {
          return false
        }
      },
      {
        error:
          'each value must be an origin such as https://app.example.com (no path, no trailing slash, no *)',
      },
    ),
  ),
)

/** Where OTLP/HTTP sends spans: an http(s) URL, such as a collector's `http://otel-collector:4318`. */
const otlpEndpoint = z.preprocess(
  unsetIfEmpty,
  z
    .string()
    .refine(
      (raw) => {
        try {
          const { protocol } = new URL(raw)
          return protocol === 'http:' || protocol === 'https:'
        } catch {
          return false
        }
      },
      { error: 'must be an http:// or https:// URL, e.g. http://otel-collector:4318 (OTLP over HTTP)' },
    )
    .optional(),
)

/** Proxy addresses whose X-Forwarded-For is believed. */
const proxyAddresses = commaList.pipe(
  z.array(z.string().refine((raw) => isIP(raw) !== 0, { error: 'each value must be an IP address' })),
)

/** How the service reaches Redis (REDIS_MODE): one server, a Sentinel-managed primary, or a Redis Cluster. */
const REDIS_MODES = ['standalone', 'sentinel', 'cluster'] as const
export type RedisMode = (typeof REDIS_MODES)[number]

/** Sentinel's customary port, for a REDIS_SENTINELS entry without one. */
const SENTINEL_DEFAULT_PORT = 26379

/** REDIS_URL's comma-separated parts: one URL, or a cluster's seed nodes. */
export const splitRedisUrls = (raw: string): string[] =>
  raw
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean)

function isRedisUrl(raw: string): boolean {
  try {
    const url = new URL(raw)
    // The path, if any, is the database number: node-redis throws on anything else.
    const database = /^\/?(\d{0,5})$/.exec(url.pathname)
    return (
      (url.protocol === 'redis:' || url.protocol === 'rediss:') &&
      url.hostname !== '' &&
      database !== null &&
      Number(database[1] || 0) <= MAX_DATABASE
    )
  } catch {
    return false
  }
}

const redisUrl = z.preprocess(
  unsetIfEmpty,
  z
    .string({
      error:
        'is required in every mode: point it at a Redis, e.g. redis://127.0.0.1:6379 (start one with `docker compose up -d redis`, or run `npm run local`)',
    })
    .refine((raw) => splitRedisUrls(raw).length > 0 && splitRedisUrls(raw).every(isRedisUrl), {
      error:
        'must be a redis:// or rediss:// URL with a host and at most a database number as its path, e.g. redis://127.0.0.1:6379/0 or rediss://default:PASSWORD@HOST:6379 (with REDIS_MODE=cluster, a comma-separated list of such URLs)',
    }),
)

export interface RedisNodeAddress {
  readonly host: string
  readonly port: number
}

/** `host:port` (IPv6 as `[addr]:port`), port 26379 when left out; undefined when it is not one. */
function parseNodeAddress(raw: string): RedisNodeAddress | undefined {
  try {
    const url = new URL(`redis://${raw}`)
    if (
      url.hostname === '' ||
      url.username ||
      url.password ||
      url.pathname !== '' ||
      url.search ||
      url.hash
    ) {
      return undefined
    }
    return {
      host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
      port: url.port === '' ? SENTINEL_DEFAULT_PORT : Number(url.port),
    }
  } catch {
    return undefined
  }
}

const nodeAddresses = commaList.pipe(
  z.array(
    z.string().refine((raw) => parseNodeAddress(raw) !== undefined, {
      error: 'each value must be host:port, e.g. 10.0.0.5:26379,10.0.0.6:26379',
    }),
  ),
)

/** A name a certificate can carry (REDIS_TLS_SERVERNAME): a DNS name, never an IP address. */
const serverName = z.preprocess(
  unsetIfEmpty,
  z
    .string()
    .refine((raw) => isIP(raw) === 0 && /^[A-Za-z0-9*]([A-Za-z0-9.-]*[A-Za-z0-9])?$/.test(raw), {
      error:
        "must be a host name as the server's certificate names it (not an IP address), e.g. redis.internal",
    })
    .optional(),
)

const optionalText = z.preprocess(unsetIfEmpty, z.string().optional())

/** Production keeps serving 5 s after a signal by default, for load balancers to notice; elsewhere 0. */
const shutdownDelay = (env: { SHUTDOWN_DELAY_MS?: number | undefined; NODE_ENV: NodeEnv }) =>
  env.SHUTDOWN_DELAY_MS ?? (env.NODE_ENV === 'production' ? 5000 : 0)

const schema = z
  .object({
    REDIS_URL: redisUrl,
    REDIS_MODE: z.preprocess(
      unsetIfEmpty,
      z.enum(REDIS_MODES, { error: `must be one of ${REDIS_MODES.join(', ')}` }).default('standalone'),
    ),
    REDIS_SENTINELS: nodeAddresses,
    REDIS_SENTINEL_NAME: optionalText,
    REDIS_SENTINEL_USERNAME: optionalText,
    REDIS_SENTINEL_PASSWORD: optionalText,
    REDIS_TLS_CA_FILE: optionalText,
    REDIS_TLS_SERVERNAME: serverName,
    SESSION_SECRET: secretList('generate one with `openssl rand -base64 48`'),
    API_TOKEN: secretList('generate one with `openssl rand -base64 48`'),
    PORT: integer(0, 65535, 3000),
    HOST: z.preprocess(unsetIfEmpty, z.string().default('0.0.0.0')),
    NODE_ENV: z.preprocess(
      unsetIfEmpty,
      z.enum(NODE_ENVS, { error: `must be one of ${NODE_ENVS.join(', ')}` }).default('development'),
    ),
    LOG_LEVEL: z.preprocess(
      unsetIfEmpty,
      z.enum(LOG_LEVELS, { error: `must be one of ${LOG_LEVELS.join(', ')}` }).default('info'),
    ),
    REDIS_CONNECT_TIMEOUT_MS: integer(100, 600_000, 5000),
    READY_TIMEOUT_MS: integer(10, 60_000, 1000),
    REDIS_COMMAND_TIMEOUT_MS: integer(10, 60_000, 2000),
    // 0 (off): an append is acknowledged once the primary has it, as Redis replicates asynchronously.
    REDIS_APPEND_WAIT_REPLICAS: integer(0, 100, 0),
    // Never 0: WAIT's 0 blocks until the replicas answer, however long.
    REDIS_APPEND_WAIT_TIMEOUT_MS: integer(1, 60_000, 500),
    BODY_LIMIT_BYTES: integer(1024, 100 * 1024 * 1024, 1_048_576),
    // Slow or silent clients: how long a request head, a whole request, an idle connection may take.
    HTTP_HEADERS_TIMEOUT_MS: integer(100, 600_000, 10_000),
    HTTP_REQUEST_TIMEOUT_MS: integer(100, 3_600_000, 30_000),
    HTTP_KEEP_ALIVE_TIMEOUT_MS: integer(100, 3_600_000, 5000),
    // Its default depends on NODE_ENV, so it is resolved after parsing.
    SHUTDOWN_DELAY_MS: z.preprocess(unsetIfEmpty, wholeNumber(0, 600_000).optional()),
    SHUTDOWN_TIMEOUT_MS: integer(100, 3_600_000, 30_000),
    SESSION_TTL_SECONDS: integer(60, 31_536_000, 86_400),
    BUFFER_MAX_LEN: integer(1, 10_000_000, 10_000),
    SSE_HEARTBEAT_MS: integer(100, 600_000, 15_000),
    SSE_RETRY_MS: integer(100, 600_000, 2000),
    SSE_QUEUE_MAX_EVENTS: integer(1, 1_000_000, 1000),
    SSE_QUEUE_MAX_BYTES: integer(1024, 1024 * 1024 * 1024, 1_048_576),
    SSE_MAX_STREAMS_PER_SESSION: integer(1, 10_000, 16),
    SSE_MAX_BUFFERS_PER_STREAM: integer(1, 256, 32),
    METRICS_TOKEN: optionalSecretList('generate one with `openssl rand -base64 48`'),
    GRANT_SECRET: optionalSecretList('generate one with `openssl rand -base64 48`'),
    GRANT_PUBLIC_KEYS_FILE: z.preprocess(unsetIfEmpty, z.string().optional()),
    GRANT_MAX_TTL_SECONDS: integer(60, 31_536_000, 86_400),
    GRANT_AUDIENCE: z.preprocess(unsetIfEmpty, z.string().optional()),
    GRANT_ISSUER: z.preprocess(unsetIfEmpty, z.string().optional()),
    // Its default depends on NODE_ENV, so it is resolved after parsing.
    SESSIONS_ANONYMOUS: boolean,
    DEV_GRANTS: boolean,
    ALLOWED_ORIGINS: origins,
    TRUST_PROXY: proxyAddresses,
    RATE_LIMIT_SESSIONS_PER_MINUTE: integer(1, 1_000_000, 30),
    RATE_LIMIT_AUTH_FAILURES_PER_MINUTE: integer(1, 1_000_000, 30),
    RATE_LIMIT_APPENDS_PER_MINUTE: integer(1, 10_000_000, 6000),
    // OpenTelemetry's own variables: the SDK reads them (and the other OTEL_* ones) itself. Validated here
    // because they decide whether tracing is loaded at all, and a typo should be exit 78, not lost spans.
    OTEL_EXPORTER_OTLP_ENDPOINT: otlpEndpoint,
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: otlpEndpoint,
    OTEL_SDK_DISABLED: boolean,
  })
  .superRefine((env, ctx) => {
    for (const problem of redisTopologyProblems(env)) ctx.addIssue({ code: 'custom', ...problem })
    // Only when WAIT is on, so that a short command timeout alone stays valid.
    if (
      env.REDIS_APPEND_WAIT_REPLICAS > 0 &&
      env.REDIS_APPEND_WAIT_TIMEOUT_MS >= env.REDIS_COMMAND_TIMEOUT_MS
    ) {
      ctx.addIssue({
        code: 'custom',
        path: ['REDIS_APPEND_WAIT_TIMEOUT_MS'],
        message:
          'must be less than REDIS_COMMAND_TIMEOUT_MS (default 2000): an append and its WAIT are one reply, bounded by the command timeout',
      })
    }
    if (env.HTTP_HEADERS_TIMEOUT_MS >= env.HTTP_REQUEST_TIMEOUT_MS) {
      ctx.addIssue({
        code: 'custom',
        path: ['HTTP_HEADERS_TIMEOUT_MS'],
        message:
          'must be less than HTTP_REQUEST_TIMEOUT_MS (default 30000): the request timeout counts from the same start and includes the head',
      })
    }
    if (shutdownDelay(env) >= env.SHUTDOWN_TIMEOUT_MS) {
      ctx.addIssue({
        code: 'custom',
        path: ['SHUTDOWN_DELAY_MS'],
        message:
          'must be less than SHUTDOWN_TIMEOUT_MS (production default 5000), which counts from the signal: every shutdown would exit 1',
      })
    }
    // Prometheus's scrape configuration holds the metrics token: one that is also an admin token would
    // put every buffer and session within reach of whoever can read that file.
    if (env.METRICS_TOKEN.some((token) => env.API_TOKEN.includes(token))) {
      ctx.addIssue({
        code: 'custom',
        path: ['METRICS_TOKEN'],
        message:
          'must differ from every API_TOKEN value: a metrics token that is also the admin token can do anything',
      })
    }
    // .env.example's values pass the length rule so that `docker compose up` works out of the box; they
    // must never sign real cookies.
    if (env.NODE_ENV !== 'production') return
    if (env.DEV_GRANTS) {
      ctx.addIssue({
        code: 'custom',
        path: ['DEV_GRANTS'],
        message: 'must not be true in production: it lets anyone mint a grant to read every buffer',
      })
    }
    for (const name of ['SESSION_SECRET', 'API_TOKEN', 'METRICS_TOKEN', 'GRANT_SECRET'] as const) {
      if (env[name].some((value) => value.startsWith(EXAMPLE_SECRET_PREFIX))) {
        ctx.addIssue({
          code: 'custom',
          path: [name],
          message:
            'still holds the placeholder from .env.example; production needs a real secret: openssl rand -base64 48',
        })
      }
    }
  })

type RedisVariables = {
  REDIS_URL: string
  REDIS_MODE: RedisMode
  REDIS_SENTINELS: string[]
  REDIS_SENTINEL_NAME?: string | undefined
  REDIS_SENTINEL_USERNAME?: string | undefined
  REDIS_SENTINEL_PASSWORD?: string | undefined
  REDIS_TLS_CA_FILE?: string | undefined
  REDIS_TLS_SERVERNAME?: string | undefined
}

/**
 * The rules that tie the Redis variables to REDIS_MODE: what each mode needs, what only one mode reads
 * (set elsewhere, it is a mistake worth saying), and what only TLS reads. REDIS_URL is valid by now.
 */
function redisTopologyProblems(env: RedisVariables): { path: string[]; message: string }[] {
  const problems: { path: string[]; message: string }[] = []
  const problem = (name: string, message: string) => problems.push({ path: [name], message })
  // The object's rules run even when a variable failed its own: an invalid REDIS_URL is reported already.
  const rawUrls = typeof env.REDIS_URL === 'string' ? splitRedisUrls(env.REDIS_URL) : []
  const urls = rawUrls.every(isRedisUrl) ? rawUrls.map((raw) => new URL(raw)) : []
  const mode = env.REDIS_MODE
  if (mode === 'sentinel') {
    if (env.REDIS_SENTINELS.length === 0) {
      problem('REDIS_SENTINELS', 'is required with REDIS_MODE=sentinel: the sentinels as host:port,host:port')
    }
    if (!env.REDIS_SENTINEL_NAME) {
      problem(
        'REDIS_SENTINEL_NAME',
        'is required with REDIS_MODE=sentinel: the master name the sentinels monitor (`sentinel monitor <name> ...`)',
      )
    }
  } else {
    for (const name of [
      'REDIS_SENTINELS',
      'REDIS_SENTINEL_NAME',
      'REDIS_SENTINEL_USERNAME',
      'REDIS_SENTINEL_PASSWORD',
    ] as const) {
      const value = env[name]
      if (Array.isArray(value) ? value.length > 0 : value !== undefined) {
        problem(name, `is only read with REDIS_MODE=sentinel (REDIS_MODE is ${mode})`)
      }
    }
  }
  if (mode !== 'cluster' && urls.length > 1) {
    problem('REDIS_URL', 'lists several URLs: only REDIS_MODE=cluster takes a list (of seed nodes)')
  }
  if (mode === 'cluster') {
    if (urls.some((url) => /[1-9]/.test(url.pathname))) {
      problem('REDIS_URL', 'names a database other than 0: a Redis Cluster has only database 0')
    }
    const [first] = urls
    const same = (url: URL) =>
      url.protocol === first?.protocol && url.username === first.username && url.password === first.password
    if (!urls.every(same)) {
      problem(
        'REDIS_URL',
        "seed nodes must share one scheme and one user and password: they are the cluster's",
      )
    }
  }
  if (urls.length > 0 && !urls.every((url) => url.protocol === 'rediss:')) {
    for (const name of ['REDIS_TLS_CA_FILE', 'REDIS_TLS_SERVERNAME'] as const) {
      if (env[name] !== undefined) problem(name, 'needs TLS: a rediss:// REDIS_URL')
    }
  }
  return problems
}

/** REDIS_TLS_CA_FILE's certificates as PEM text, or why it cannot be used. */
function readCaFile(path: string): { pem: string } | { problem: string } {
  let pem: string
  try {
    pem = readFileSync(path, 'utf8')
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? 'unreadable'
    return { problem: `REDIS_TLS_CA_FILE cannot be read (${reason}): ${path}` }
  }
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []
  try {
    if (blocks.length === 0) throw new Error('no certificate')
    for (const block of blocks) new X509Certificate(block)
  } catch {
    return { problem: `REDIS_TLS_CA_FILE holds no PEM certificate (-----BEGIN CERTIFICATE-----): ${path}` }
  }
  return { pem }
}

/** How many replicas must confirm a write, and how long they have (Redis's WAIT numreplicas timeout). */
export interface ReplicaWait {
  readonly replicas: number
  readonly timeoutMs: number
}

export type NodeEnv = (typeof NODE_ENVS)[number]
export type LogLevel = (typeof LOG_LEVELS)[number]

export interface Env {
  /** One URL, or with REDIS_MODE=cluster a comma-separated list of seed nodes (see splitRedisUrls). */
  readonly redisUrl: string
  readonly redisMode: RedisMode
  /** REDIS_MODE=sentinel: where the sentinels listen; empty otherwise. */
  readonly redisSentinels: readonly RedisNodeAddress[]
  /** REDIS_MODE=sentinel: the master name the sentinels monitor. */
  readonly redisSentinelName: string | undefined
  /** REDIS_MODE=sentinel: the sentinels' own credentials, when they require any. */
  readonly redisSentinelUsername: string | undefined
  readonly redisSentinelPassword: string | undefined
  /** The private CA that signed the Redis servers' certificates (PEM), from REDIS_TLS_CA_FILE. */
  readonly redisTlsCa: string | undefined
  /** The name every Redis server's certificate must carry, when it is not the host connected to. */
  readonly redisTlsServername: string | undefined
  /** The first signs new cookies; all of them verify (rotation). */
  readonly sessionSecrets: readonly string[]
  readonly apiTokens: readonly string[]
  readonly port: number
  readonly host: string
  readonly nodeEnv: NodeEnv
  readonly logLevel: LogLevel
  readonly redisConnectTimeoutMs: number
  readonly readyTimeoutMs: number
  readonly redisCommandTimeoutMs: number
  /**
   * How many replicas must confirm an append (WAIT) before it is acknowledged; 0 is off. With
   * `timeoutMs`, how long they have (REDIS_APPEND_WAIT_TIMEOUT_MS); fewer in time is a 503.
   */
  readonly redisAppendWait: ReplicaWait
  readonly bodyLimitBytes: number
  /** Time for a request's head to arrive, from the connection or the end of the previous response. */
  readonly httpHeadersTimeoutMs: number
  /** Time for a whole request (head and body) to arrive; not a bound on the response (an event stream). */
  readonly httpRequestTimeoutMs: number
  /** How long an idle keep-alive connection is kept (Node closes it 1 s after it says so). */
  readonly httpKeepAliveTimeoutMs: number
  readonly shutdownDelayMs: number
  readonly shutdownTimeoutMs: number
  readonly sessionTtlSeconds: number
  readonly bufferMaxLen: number
  readonly sseHeartbeatMs: number
  readonly sseRetryMs: number
  readonly sseQueueMaxEvents: number
  readonly sseQueueMaxBytes: number
  readonly sseMaxStreamsPerSession: number
  /** The most buffers one stream (`GET /events`) follows. */
  readonly sseMaxBuffersPerStream: number
  /** Bearer tokens that may read /metrics and nothing else; empty when unset. */
  readonly metricsTokens: readonly string[]
  /** HS256 keys for grant tokens; the first is listed first, all verify (rotation). */
  readonly grantSecrets: readonly string[]
  /** Public keys (EdDSA, ES256, RS256) for grant tokens, from GRANT_PUBLIC_KEYS_FILE; empty when unset. */
  readonly grantPublicKeys: readonly GrantPublicKey[]
  readonly grantMaxTtlSeconds: number
  readonly grantAudience: string | undefined
  readonly grantIssuer: string | undefined
  /** Whether POST /sessions without a grant creates a session (with no read access). */
  readonly sessionsAnonymous: boolean
  /** Whether `POST /dev/grant` mints development grants (for the demo page); never in production. */
  readonly devGrants: boolean
  readonly allowedOrigins: readonly string[]
  readonly trustProxy: readonly string[]
  readonly rateLimitSessionsPerMinute: number
  readonly rateLimitAuthFailuresPerMinute: number
  readonly rateLimitAppendsPerMinute: number
  /**
   * Whether spans are exported over OTLP: OTEL_EXPORTER_OTLP_ENDPOINT (or its _TRACES_ variant) is set
   * and OTEL_SDK_DISABLED is not true. When false, neither the SDK nor @hono/otel is even loaded.
   */
  readonly tracing: boolean
}

/** The algorithms a grant's public key may name; the key's `alg` is the only one it verifies. */
export const GRANT_PUBLIC_KEY_ALGORITHMS = ['EdDSA', 'ES256', 'RS256'] as const

/** One JSON Web Key of GRANT_PUBLIC_KEYS_FILE, as jose reads it. */
export interface GrantPublicKey {
  readonly kty: string
  readonly alg: (typeof GRANT_PUBLIC_KEY_ALGORITHMS)[number]
  readonly kid?: string
  readonly [parameter: string]: unknown
}

/** JWK members that only a private key has: a public key file holding one is a leak, refused. */
const PRIVATE_KEY_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k']

const jwks = z.object({
  keys: z
    .array(
      z.looseObject({
        kty: z.string({ error: 'needs kty' }),
        alg: z.enum(GRANT_PUBLIC_KEY_ALGORITHMS, {
          error: `needs alg, one of ${GRANT_PUBLIC_KEY_ALGORITHMS.join(', ')} (the key fixes its algorithm)`,
        }),
        kid: z.string().optional(),
      }),
    )
    .min(1, { error: 'must hold at least one key' }),
})

/** GRANT_PUBLIC_KEYS_FILE's keys, or the problems with it. */
function readGrantPublicKeys(path: string): { keys: GrantPublicKey[] } | { problem: string } {
  let parsed: unknown
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'))
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? 'not JSON'
    return { problem: `GRANT_PUBLIC_KEYS_FILE cannot be read as a JWKS (${reason}): ${path}` }
  }
  const result = jwks.safeParse(parsed)
  if (!result.success) {
    const issue = result.error.issues[0]
    return {
      problem: `GRANT_PUBLIC_KEYS_FILE ${issue?.path.join('.') ?? ''} ${issue?.message ?? 'is invalid'}`,
    }
  }
  if (result.data.keys.some((key) => PRIVATE_KEY_MEMBERS.some((member) => member in key))) {
    return { problem: 'GRANT_PUBLIC_KEYS_FILE holds a private or symmetric key: list public keys only' }
  }
  return { keys: result.data.keys as GrantPublicKey[] }
}

/** Thrown by {@link loadEnv}; `problems` holds one line per bad variable, each naming it. */
export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`Invalid configuration:\n${problems.map((line) => `  - ${line}`).join('\n')}`)
    this.name = 'ConfigError'
  }
}

export function loadEnv(source: Record<string, string | undefined>): Env {
  const parsed = schema.safeParse(source)
  if (!parsed.success) {
    const problems = parsed.error.issues.map(
      (issue) => `${issue.path.join('.') || 'environment'} ${issue.message}`,
    )
    throw new ConfigError(problems)
  }
  const v = parsed.data
  const publicKeys = v.GRANT_PUBLIC_KEYS_FILE ? readGrantPublicKeys(v.GRANT_PUBLIC_KEYS_FILE) : { keys: [] }
  const ca = v.REDIS_TLS_CA_FILE ? readCaFile(v.REDIS_TLS_CA_FILE) : { pem: undefined }
  const fileProblems = [publicKeys, ca].flatMap((read) => ('problem' in read ? [read.problem] : []))
  if (fileProblems.length > 0) throw new ConfigError(fileProblems)
  return Object.freeze({
    redisUrl: v.REDIS_URL,
    redisMode: v.REDIS_MODE,
    redisSentinels: Object.freeze(
      v.REDIS_SENTINELS.map((raw) => parseNodeAddress(raw)).filter((address) => address !== undefined),
    ),
    redisSentinelName: v.REDIS_SENTINEL_NAME,
    redisSentinelUsername: v.REDIS_SENTINEL_USERNAME,
    redisSentinelPassword: v.REDIS_SENTINEL_PASSWORD,
    redisTlsCa: 'pem' in ca ? ca.pem : undefined,
    redisTlsServername: v.REDIS_TLS_SERVERNAME,
    sessionSecrets: Object.freeze(v.SESSION_SECRET),
    apiTokens: Object.freeze(v.API_TOKEN),
    port: v.PORT,
    host: v.HOST,
    nodeEnv: v.NODE_ENV,
    logLevel: v.LOG_LEVEL,
    redisConnectTimeoutMs: v.REDIS_CONNECT_TIMEOUT_MS,
    readyTimeoutMs: v.READY_TIMEOUT_MS,
    redisCommandTimeoutMs: v.REDIS_COMMAND_TIMEOUT_MS,
    redisAppendWait: Object.freeze({
      replicas: v.REDIS_APPEND_WAIT_REPLICAS,
      timeoutMs: v.REDIS_APPEND_WAIT_TIMEOUT_MS,
    }),
    bodyLimitBytes: v.BODY_LIMIT_BYTES,
    httpHeadersTimeoutMs: v.HTTP_HEADERS_TIMEOUT_MS,
    httpRequestTimeoutMs: v.HTTP_REQUEST_TIMEOUT_MS,
    httpKeepAliveTimeoutMs: v.HTTP_KEEP_ALIVE_TIMEOUT_MS,
    shutdownDelayMs: shutdownDelay(v),
    shutdownTimeoutMs: v.SHUTDOWN_TIMEOUT_MS,
    sessionTtlSeconds: v.SESSION_TTL_SECONDS,
    bufferMaxLen: v.BUFFER_MAX_LEN,
    sseHeartbeatMs: v.SSE_HEARTBEAT_MS,
    sseRetryMs: v.SSE_RETRY_MS,
    sseQueueMaxEvents: v.SSE_QUEUE_MAX_EVENTS,
    sseQueueMaxBytes: v.SSE_QUEUE_MAX_BYTES,
    sseMaxStreamsPerSession: v.SSE_MAX_STREAMS_PER_SESSION,
    sseMaxBuffersPerStream: v.SSE_MAX_BUFFERS_PER_STREAM,
    metricsTokens: Object.freeze(v.METRICS_TOKEN),
    grantSecrets: Object.freeze(v.GRANT_SECRET),
    grantPublicKeys: Object.freeze('keys' in publicKeys ? publicKeys.keys : []),
    grantMaxTtlSeconds: v.GRANT_MAX_TTL_SECONDS,
    grantAudience: v.GRANT_AUDIENCE,
    grantIssuer: v.GRANT_ISSUER,
    sessionsAnonymous: v.SESSIONS_ANONYMOUS ?? v.NODE_ENV !== 'production',
    devGrants: v.DEV_GRANTS ?? false,
    allowedOrigins: Object.freeze(v.ALLOWED_ORIGINS),
    trustProxy: Object.freeze(v.TRUST_PROXY),
    rateLimitSessionsPerMinute: v.RATE_LIMIT_SESSIONS_PER_MINUTE,
    rateLimitAuthFailuresPerMinute: v.RATE_LIMIT_AUTH_FAILURES_PER_MINUTE,
    rateLimitAppendsPerMinute: v.RATE_LIMIT_APPENDS_PER_MINUTE,
    tracing:
      (v.OTEL_EXPORTER_OTLP_ENDPOINT ?? v.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) !== undefined &&
      v.OTEL_SDK_DISABLED !== true,
  })
}

/** `redis://user:***@host:port/db` (each of a cluster's seeds): safe to print, the password never is. */
export function describeRedisUrl(raw: string): string {
  return splitRedisUrls(raw)
    .map((part) => {
      try {
        const url = new URL(part)
        if (url.password) url.password = '***'
        return url.toString()
      } catch {
        return '(unparseable REDIS_URL)'
      }
    })
    .join(',')
}
