/**
 * Benchmark (issue 3): authenticated `GET /sessions/current` in requests per second, against two
 * baselines started in the same run on the same Redis:
 *   ceiling: a minimal Hono app doing one Redis GET per request;
 *   peer:    express 5 + express-session + connect-redis serving the same read.
 * Targets: >= 3.0x the peer and >= 0.8x the ceiling.
 * Run: `npm ci --prefix bench && npm run bench:sessions` (BENCH_CYCLES, BENCH_BURST_SECONDS to tune).
 *
 * All three servers run at once and take the load in turns, in short bursts, order alternating per
 * cycle. The speed of a shared (virtual) machine drifts by tens of percent over minutes; bursts a few
 * seconds apart see the same machine, so the drift cancels out of the ratios.
 */

import { SignJWT } from 'jose'
import { type Burst, burst, type LoadTarget, type Tally, tally } from './support/load.js'
import { buildService, type Running, startRedis, startScript, startService } from './support/processes.js'
import { reportFigures } from './support/report.js'

const SECRET = 'bench-session-secret-0123456789abcdefghij'
const CYCLES = Number(process.env.BENCH_CYCLES ?? 10)
const BURST_SECONDS = Number(process.env.BENCH_BURST_SECONDS ?? 2)
const WARMUP_SECONDS = 3

function cookieOf(res: Response): string {
  const cookie = /^[^;]+/.exec(res.headers.get('set-cookie') ?? '')?.[0]
  if (!cookie) throw new Error(`no cookie from ${res.url}`)
  return cookie
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
        GRANT_SECRET: SECRET,
        NODE_ENV: 'production',
      }),
    // As in production: a session bound to a user by a grant token (anonymous sessions are off there),
    // so every read also carries the grant the service checks.
    prepare: async (base) => {
      const grant = await new SignJWT({ buffers: { read: ['orders.*'] } })
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject('ada')
        .setExpirationTime('1h')
        .sign(new TextEncoder().encode(SECRET))
      const created = await fetch(`${base}/sessions`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ grant, data: { user: 'ada', roles: ['admin'] } }),
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

buildService()
const redis = await startRedis()
const running: Running[] = []
try {
  const loads: LoadTarget[] = []
  for (const target of targets) {
    const server = await target.start(redis.url)
    running.push(server)
    const base = `http://127.0.0.1:${server.port}`
    const { path, headers } = await target.prepare(base)
    loads.push({ url: `${base}${path}`, headers })
  }
  // Warm-up: JIT compilation, connection pools and heap sizes settle before anything is counted.
  for (const load of loads) await burst(load, WARMUP_SECONDS)
  const bursts: Burst[][] = targets.map(() => [])
  for (let cycle = 0; cycle < CYCLES; cycle++) {
    const order = targets.map((_, index) => index)
    if (cycle % 2 === 1) order.reverse()
    for (const index of order) bursts[index]?.push(await burst(loads[index] as LoadTarget, BURST_SECONDS))
  }
  const tallies = bursts.map(tally)
  console.log(
    `Authenticated session read: ${CYCLES} cycles of ${BURST_SECONDS} s bursts per target, 50 connections, loopback`,
  )
  targets.forEach((target, index) => {
    const { requestsPerSecond, p99Ms, failed } = tallies[index] ?? {
      requestsPerSecond: 0,
      p99Ms: 0,
      failed: 0,
    }
    console.log(
      `${target.name.padEnd(52)} ${requestsPerSecond.toFixed(0).padStart(7)} req/s  p99 ${p99Ms} ms  failed ${failed}`,
    )
  })
  const [ours, ceiling, peer] = tallies.map((t) => t.requestsPerSecond) as [number, number, number]
  const vsPeer = ours / peer
  const vsCeiling = ours / ceiling
  console.log(`\nratio vs peer:    ${vsPeer.toFixed(2)}x (target >= 3.0x) ${vsPeer >= 3 ? 'PASS' : 'MISS'}`)
  console.log(
    `ratio vs ceiling: ${vsCeiling.toFixed(2)}x (target >= 0.8x) ${vsCeiling >= 0.8 ? 'PASS' : 'MISS'}`,
  )
  const [oursTally, ceilingTally, peerTally] = tallies as [Tally, Tally, Tally]
  const benchmark = 'sessions: GET /sessions/current'
  reportFigures([
    {
      benchmark,
      figure: 'throughput vs ceiling (Hono + one Redis GET)',
      unit: 'req/s',
      ours,
      baseline: { name: 'ceiling', value: ceiling },
      ratio: vsCeiling,
      target: '>= 0.8x',
      pass: vsCeiling >= 0.8,
    },
    {
      benchmark,
      figure: 'throughput vs peer (express-session + connect-redis)',
      unit: 'req/s',
      ours,
      baseline: { name: 'peer', value: peer },
      ratio: vsPeer,
      target: '>= 3.0x',
      pass: vsPeer >= 3,
    },
    {
      benchmark,
      figure: 'p99 latency (median of bursts) vs ceiling',
      unit: 'ms',
      ours: oursTally.p99Ms,
      baseline: { name: 'ceiling', value: ceilingTally.p99Ms },
      ratio: oursTally.p99Ms / ceilingTally.p99Ms,
    },
    {
      benchmark,
      figure: 'failed requests (all targets)',
      unit: '',
      ours: oursTally.failed + ceilingTally.failed + peerTally.failed,
      target: '0',
      pass: oursTally.failed + ceilingTally.failed + peerTally.failed === 0,
    },
  ])
} finally {
  for (const server of running) await server.stop()
  await redis.stop()
}
