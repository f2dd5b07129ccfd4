/**
 * Benchmark (issue 3): authenticated `GET /sessions/current` in requests per second, against two
 * baselines started in the same run on the same Redis:
 *   ceiling: a minimal Hono app doing one Redis GET per request;
 *   peer:    express 5 + express-session + connect-redis serving the same read.
 * Targets: >= 3.0x the peer and >= 0.8x the ceiling.
 * Run: `npm ci --prefix bench && npm run bench:sessions` (BENCH_ROUNDS, BENCH_DURATION_SECONDS to tune).
 */
import { type LoadResult, measure } from './support/load.js'
import { buildService, type Running, startRedis, startScript, startService } from './support/processes.js'

const SECRET = 'bench-session-secret-0123456789abcdefghij'
const DURATION_SECONDS = Number(process.env.BENCH_DURATION_SECONDS ?? 10)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3)

function cookieOf(res: Response): string {
  const cookie = /^[^;]+/.exec(res.headers.get('set-cookie') ?? '')?.[0]
  if (!cookie) throw new Error(`no cookie from ${res.url}`)
  return cookie
}

async function withServer<T>(start: () => Promise<Running>, use: (base: string) => Promise<T>): Promise<T> {
  const server = await start()
  try {
    return await use(`http://127.0.0.1:${server.port}`)
  } finally {
    await server.stop()
  }
}

interface Target {
  name: string
  start: (redisUrl: string) => Promise<Running>
  /** Prepares the target (creates the session) and returns what to load. */
  prepare: (base: string) => Promise<{ path: string; headers?: Record<string, string> }>
}

const targets: Target[] = [
  {
    name: 'hono-redis-service GET /sessions/current',
    start: (redisUrl) =>
      startService({
        REDIS_URL: redisUrl,
        SESSION_SECRET: SECRET,
        API_TOKEN: SECRET,
        NODE_ENV: 'production',
      }),
    prepare: async (base) => {
      const created = await fetch(`${base}/sessions`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ data: { user: 'ada', roles: ['admin'] } }),
      })
      return { path: '/sessions/current', headers: { Cookie: cookieOf(created) } }
    },
  },
  {
    name: 'ceiling: Hono + one Redis GET',
    start: (redisUrl) => startScript('bench/baselines/hono-get.ts', { REDIS_URL: redisUrl }),
    prepare: async () => ({ path: '/session' }),
  },
  {
    name: 'peer: express 5 + express-session + connect-redis',
    start: (redisUrl) => startScript('bench/baselines/express-session.ts', { REDIS_URL: redisUrl }),
    prepare: async (base) => ({
      path: '/session',
      headers: { Cookie: cookieOf(await fetch(`${base}/login`, { method: 'POST' })) },
    }),
  },
]

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0

buildService()
const redis = await startRedis()
try {
  // Rounds interleave the three targets, and the median is reported, so a burst of other load on the
  // machine cannot favour one of them.
  const results = new Map<string, LoadResult[]>(targets.map((target) => [target.name, []]))
  for (let round = 1; round <= ROUNDS; round++) {
    for (const target of targets) {
      const result = await withServer(
        () => target.start(redis.url),
        async (base) => {
          const { path, headers } = await target.prepare(base)
          return measure({ url: `${base}${path}`, headers, durationSeconds: DURATION_SECONDS })
        },
      )
      results.get(target.name)?.push(result)
      console.log(`round ${round}: ${target.name}: ${result.requestsPerSecond.toFixed(0)} req/s`)
    }
  }
  const rps = (name: string) => median((results.get(name) ?? []).map((r) => r.requestsPerSecond))
  const [ours, ceiling, peer] = targets.map((target) => rps(target.name)) as [number, number, number]
  console.log(
    `\nAuthenticated session read: median of ${ROUNDS} rounds x ${DURATION_SECONDS} s, 50 connections, loopback`,
  )
  for (const target of targets) {
    const runs = results.get(target.name) ?? []
    const failures = runs.reduce((sum, r) => sum + r.non2xx + r.errors, 0)
    console.log(
      `${target.name.padEnd(52)} ${rps(target.name).toFixed(0).padStart(7)} req/s  p99 ${median(runs.map((r) => r.p99Ms))} ms  failed ${failures}`,
    )
  }
  const vsPeer = ours / peer
  const vsCeiling = ours / ceiling
  console.log(`\nratio vs peer:    ${vsPeer.toFixed(2)}x (target >= 3.0x) ${vsPeer >= 3 ? 'PASS' : 'MISS'}`)
  console.log(
    `ratio vs ceiling: ${vsCeiling.toFixed(2)}x (target >= 0.8x) ${vsCeiling >= 0.8 ? 'PASS' : 'MISS'}`,
  )
} finally {
  await redis.stop()
}
