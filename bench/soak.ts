/**
 * Memory soak (issue 10): BENCH_SOAK_SECONDS (default 300) of mixed traffic against the service as built
 * (`node dist/main.js`, NODE_ENV=production), with SSE connect/disconnect churn, sampling its memory every
 * BENCH_SOAK_SAMPLE_SECONDS (default 10). Each sample is taken after full garbage collections (a
 * preload answers SIGUSR2, tests/faults/support/memory-probe.cjs), so it shows what the heap retains, not
 * what V8 has not collected yet. It reports growth per 100,000 requests (least squares over the samples
 * after the first minute) and exits 1 when the retained heap grows by more than SOAK_HEAP_LIMIT_MIB per
 * 100,000 requests (and the fitted growth over the run is past the samples' noise): a leak. Not part of CI (5 minutes of both cores). Run: `npm run bench:soak`.
 *
 * Traffic, from CLIENTS keep-alive clients on loopback, each request picked by weight: session reads,
 * patches, rotations, creations (from a grant) and logouts, single and batched appends, page reads,
 * buffer descriptions, health probes and unauthenticated requests (401). SSE: about SSE_TARGET streams open
 * at any time, each closed by its client after 0.5 to 5 s and replaced, a fifth of them replaying from the
 * start of their buffer (catch-up), the rest live.
 */
import { type Agent, request } from 'node:http'
import { join } from 'node:path'
import { SignJWT } from 'jose'
import { ReconnectingEventSource } from '../tests/faults/support/event-source.js'
import { keepAliveAgent, type Reply, rssMiB, send, sleep } from '../tests/faults/support/http.js'
import { MemoryProbe, type MemorySample } from '../tests/faults/support/memory.js'
import { buildService, startRedis, startService } from './support/processes.js'

const SECONDS = Number(process.env.BENCH_SOAK_SECONDS ?? 300)
const SAMPLE_SECONDS = Number(process.env.BENCH_SOAK_SAMPLE_SECONDS ?? 10)
const WARMUP_SECONDS = Math.min(60, SECONDS / 5)
const CLIENTS = 16
const SSE_TARGET = 40
const BUFFERS = 20
const USERS = 10
/** Sessions created (and read) before measuring: past what the service's bounded caches hold. */
const CACHE_FILL_SESSIONS = Number(process.env.SOAK_CACHE_FILL_SESSIONS ?? 12_000)
/** Retained heap growth per 100,000 requests above which the soak fails. */
const SOAK_HEAP_LIMIT_MIB = Number(process.env.SOAK_HEAP_LIMIT_MIB ?? 1)
const SNAPSHOT_DIR = process.env.SOAK_HEAP_SNAPSHOTS
/** How far the retained heap moves between samples without any trend (seen here: about 1 MiB). */
const NOISE_MIB = 2
const SECRET = 'bench-soak-secret-0123456789abcdefghijklmnop'

const bearer = { Authorization: `Bearer ${SECRET}` }
const json = (value: unknown) => JSON.stringify(value)
const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)] as T
const bufferName = () => `soak-${Math.floor(Math.random() * BUFFERS)}`

async function grantFor(user: string): Promise<string> {
  return new SignJWT({ buffers: { read: ['soak-*'] } })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(user)
    .setExpirationTime('2h')
    .sign(new TextEncoder().encode(SECRET))
}

buildService()
const redis = await startRedis()
const memory = new MemoryProbe()
const service = await startService({
  REDIS_URL: redis.url,
  SESSION_SECRET: SECRET,
  API_TOKEN: SECRET,
  GRANT_SECRET: SECRET,
  NODE_ENV: 'production',
  BUFFER_MAX_LEN: '1000',
  RATE_LIMIT_SESSIONS_PER_MINUTE: '1000000',
  RATE_LIMIT_AUTH_FAILURES_PER_MINUTE: '1000000',
  ...memory.env,
})
const base = `http://127.0.0.1:${service.port}`
const pid = service.child.pid as number

let requests = 0
const statuses = new Map<string, number>()
const count = (what: string, reply: Reply) => {
  requests++
  const key = `${what} ${reply.status}${reply.error ? ` ${reply.error}` : ''}`
  statuses.set(key, (statuses.get(key) ?? 0) + 1)
}

/** Cookies of live sessions; creations add, logouts take the oldest. */
const cookies: string[] = []
const grants = await Promise.all(Array.from({ length: USERS }, (_, i) => grantFor(`soak-user-${i}`)))

/** A request whose Set-Cookie matters (create, rotate): counted, and answered with its status and cookie. */
function sendForCookie(
  what: string,
  path: string,
  agent: Agent,
  headers: Record<string, string>,
  body?: string,
): Promise<{ status: number; cookie: string | undefined }> {
  const started = performance.now()
  return new Promise((resolve) => {
    const done = (status: number, cookie: string | undefined, error?: string) => {
      const at = performance.now()
      count(what, { status, body: '', ms: at - started, at, ...(error && { error }) })
      resolve({ status, cookie: /^[^;]+/.exec(cookie ?? '')?.[0] })
    }
    const req = request(`${base}${path}`, {
      method: 'POST',
      agent,
      headers: {
        ...headers,
        ...(body !== undefined && {
          'Content-Type': 'application/json',
          'Content-Length': String(Buffer.byteLength(body)),
        }),
      },
    })
    req.on('error', (error: NodeJS.ErrnoException) => done(0, undefined, error.code ?? error.message))
    req.on('response', (res) => {
      res.resume()
      res.on('end', () => done(res.statusCode ?? 0, res.headers['set-cookie']?.[0]))
    })
    req.end(body)
  })
}

async function createSession(agent: Agent): Promise<void> {
  const body = json({ grant: pick(grants), data: { theme: 'dark', n: Math.random() } })
  const { status, cookie } = await sendForCookie('POST /sessions', '/sessions', agent, {}, body)
  if (status === 201 && cookie) cookies.push(cookie)
}

type Operation = (agent: Agent) => Promise<void>
const withCookie =
  (path: string, method = 'GET', body?: string): Operation =>
  async (agent) => {
    const cookie = cookies.length > 0 ? pick(cookies) : undefined
    if (!cookie) return createSession(agent)
    count(
      `${method} ${path}`,
      await send(`${base}${path}`, agent, { method, headers: { Cookie: cookie }, ...(body && { body }) }),
    )
  }

const operations: [weight: number, op: Operation][] = [
  [35, withCookie('/sessions/current')],
  [5, withCookie('/sessions/current', 'PATCH', json({ data: { seen: Date.now() } }))],
  [
    2,
    async (agent) => {
      const index = Math.floor(Math.random() * cookies.length)
      const cookie = cookies[index]
      if (!cookie) return createSession(agent)
      const rotated = await sendForCookie(
        'POST /sessions/current/rotate',
        '/sessions/current/rotate',
        agent,
        {
          Cookie: cookie,
        },
      )
      if (rotated.status === 200 && rotated.cookie) cookies[index] = rotated.cookie
    },
  ],
  [
    3,
    async (agent) => {
      await createSession(agent)
      // Keep about 200 live sessions: log the oldest out.
      if (cookies.length > 200) {
        const oldest = cookies.shift() as string
        count(
          'DELETE /sessions/current',
          await send(`${base}/sessions/current`, agent, { method: 'DELETE', headers: { Cookie: oldest } }),
        )
      }
    },
  ],
  [
    25,
    async (agent) =>
      count(
        'POST items',
        await send(`${base}/buffers/${bufferName()}/items`, agent, {
          method: 'POST',
          headers: bearer,
          body: json({ event: 'tick', data: { px: Math.random(), note: 'soak' } }),
        }),
      ),
  ],
  [
    5,
    async (agent) =>
      count(
        'POST items x10',
        await send(`${base}/buffers/${bufferName()}/items`, agent, {
          method: 'POST',
          headers: bearer,
          body: json({ items: Array.from({ length: 10 }, (_, n) => ({ data: { n } })) }),
        }),
      ),
  ],
  [
    15,
    async (agent) =>
      count(
        'GET items',
        await send(`${base}/buffers/${bufferName()}/items?limit=20`, agent, { headers: bearer }),
      ),
  ],
  [
    5,
    async (agent) =>
      count('GET buffer', await send(`${base}/buffers/${bufferName()}`, agent, { headers: bearer })),
  ],
  [2, async (agent) => count('GET /readyz', await send(`${base}/readyz`, agent))],
  [
    3,
    async (agent) =>
      count('GET items without credentials', await send(`${base}/buffers/${bufferName()}/items`, agent)),
  ],
]
const totalWeight = operations.reduce((sum, [weight]) => sum + weight, 0)
function nextOperation(): Operation {
  let roll = Math.random() * totalWeight
  for (const [weight, op] of operations) {
    roll -= weight
    if (roll < 0) return op
  }
  return (operations[0] as [number, Operation])[1]
}

let stopped = false
const agents: Agent[] = []
async function client(): Promise<void> {
  const agent = keepAliveAgent()
  agents.push(agent)
  while (!stopped) await nextOperation()(agent)
}

let sseOpened = 0
const sources = new Set<ReconnectingEventSource>()
async function sseChurn(): Promise<void> {
  while (!stopped) {
    while (sources.size < SSE_TARGET) {
      const from = Math.random() < 0.2 ? '?from=earliest' : ''
      const source = new ReconnectingEventSource(
        `${base}/buffers/${bufferName()}/events${from}`,
        bearer,
      ).start()
      sseOpened++
      sources.add(source)
      setTimeout(
        () => {
          source.close()
          sources.delete(source)
        },
        500 + Math.random() * 4500,
      )
    }
    await sleep(50)
  }
  for (const source of sources) source.close()
}

interface Sample extends MemorySample {
  seconds: number
  requests: number
  rssBeforeGcMiB: number
}

/**
 * Before anything is measured: sessions enough to fill the service's bounded caches, each read once. The
 * session store remembers the last 10,000 parsed grant bindings (src/sessions/store.ts), one per session;
 * filling up, that cache alone grows the heap by about 10 MiB, which a soak must not take for a leak.
 */
async function fillCaches(sessions: number): Promise<void> {
  let created = 0
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      const agent = keepAliveAgent()
      agents.push(agent)
      while (created++ < sessions) {
        await createSession(agent)
        const cookie = cookies.pop()
        if (cookie) {
          count(
            'GET /sessions/current',
            await send(`${base}/sessions/current`, agent, { headers: { Cookie: cookie } }),
          )
          cookies.unshift(cookie)
          if (cookies.length > 200) cookies.pop()
        }
      }
    }),
  )
}

const samples: Sample[] = []
const fillStarted = performance.now()
await fillCaches(CACHE_FILL_SESSIONS)
// The figures below are the soak's own.
requests = 0
statuses.clear()
console.log(
  `cache fill: ${CACHE_FILL_SESSIONS} sessions created and read in ${((performance.now() - fillStarted) / 1000).toFixed(0)} s`,
)
const started = performance.now()
try {
  const loops = [...Array.from({ length: CLIENTS }, client), sseChurn()]
  console.log(
    `Memory soak: ${SECONDS} s of mixed traffic, ${CLIENTS} keep-alive clients, ~${SSE_TARGET} SSE streams with churn, a sample every ${SAMPLE_SECONDS} s`,
  )
  console.log('|      s |  requests | RSS MiB (before GC) | RSS MiB | heap MiB (after GC) | external MiB |')
  console.log('| -----: | --------: | ------------------: | ------: | ------------------: | -----------: |')
  let snapshotsTaken = 0
  while ((performance.now() - started) / 1000 < SECONDS) {
    await sleep(SAMPLE_SECONDS * 1000)
    const seconds = (performance.now() - started) / 1000
    // With SOAK_HEAP_SNAPSHOTS=<dir>: one heap snapshot at the end of the warm-up and one at the end, to
    // compare in Chrome DevTools (Memory, Comparison) when the soak reports growth.
    const snapshot =
      SNAPSHOT_DIR &&
      ((snapshotsTaken === 0 && seconds >= WARMUP_SECONDS) || (snapshotsTaken === 1 && seconds >= SECONDS))
        ? join(SNAPSHOT_DIR, `soak-${snapshotsTaken++}-${Math.round(seconds)}s.heapsnapshot`)
        : undefined
    const rssBeforeGcMiB = await rssMiB(pid)
    const sample: Sample = {
      seconds,
      requests,
      rssBeforeGcMiB,
      ...(await memory.sample(pid, snapshot ? { snapshotTo: snapshot } : {})),
    }
    if (snapshot) console.log(`heap snapshot: ${snapshot}`)
    samples.push(sample)
    console.log(
      `| ${sample.seconds.toFixed(0).padStart(6)} | ${String(sample.requests).padStart(9)} | ${rssBeforeGcMiB.toFixed(1).padStart(19)} | ${sample.rssMiB.toFixed(1).padStart(7)} | ${sample.heapMiB.toFixed(2).padStart(19)} | ${sample.externalMiB.toFixed(2).padStart(12)} |`,
    )
  }
  stopped = true
  await Promise.all(loops)
} finally {
  stopped = true
  for (const agent of agents) agent.destroy()
  for (const source of sources) source.close()
  await service.stop()
  await redis.stop()
  memory.dispose()
}

/** Least-squares slope of y over x. */
function slope(points: { x: number; y: number }[]): number {
  const n = points.length
  const mx = points.reduce((s, p) => s + p.x, 0) / n
  const my = points.reduce((s, p) => s + p.y, 0) / n
  const sxy = points.reduce((s, p) => s + (p.x - mx) * (p.y - my), 0)
  const sxx = points.reduce((s, p) => s + (p.x - mx) ** 2, 0)
  return sxx === 0 ? 0 : sxy / sxx
}

const steady = samples.filter((s) => s.seconds >= WARMUP_SECONDS)
const per100k = (pick: (s: Sample) => number) =>
  slope(steady.map((s) => ({ x: s.requests / 100_000, y: pick(s) })))
const heapGrowth = per100k((s) => s.heapMiB)
const rssGrowth = per100k((s) => s.rssMiB)
const errors = [...statuses].filter(([key]) => / (0|5\d\d)( |$)/.test(key))
const seconds = (performance.now() - started) / 1000
console.log(
  `\n${requests} requests in ${seconds.toFixed(0)} s (${(requests / seconds).toFixed(0)} req/s), ${sseOpened} SSE streams opened and closed`,
)
console.log(`responses: ${[...statuses].map(([key, n]) => `${key}: ${n}`).join(', ')}`)
console.log(`errors (status 0 or 5xx): ${errors.reduce((sum, [, n]) => sum + n, 0)}`)
console.log(
  `growth per 100,000 requests after the first ${WARMUP_SECONDS} s: heap (after GC) ${heapGrowth.toFixed(3)} MiB, RSS (after GC) ${rssGrowth.toFixed(3)} MiB`,
)
// A slope over few requests is mostly noise (the retained heap moves by about 1 MiB between samples): it
// counts as a leak only when the growth it predicts over the measured window is past that noise too.
const steadyRequests = (steady.at(-1)?.requests ?? 0) - (steady[0]?.requests ?? 0)
const predictedMiB = (heapGrowth * steadyRequests) / 100_000
const leak = heapGrowth > SOAK_HEAP_LIMIT_MIB && predictedMiB > NOISE_MIB
console.log(
  `retained heap over the measured window (${steadyRequests} requests): ${predictedMiB.toFixed(2)} MiB by the fit, noise floor ${NOISE_MIB} MiB`,
)
console.log(
  `verdict: ${leak ? 'LEAK' : 'PASS'} (retained heap growth limit ${SOAK_HEAP_LIMIT_MIB} MiB per 100,000 requests)`,
)
if (steady.length < 3) {
  console.log('too few samples after the warm-up to judge: run longer')
  process.exitCode = 1
}
if (leak || errors.length > 0) process.exitCode = 1
