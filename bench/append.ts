/**
 * Benchmark (issue 4): appends, in items per second, for single items and for batches of 100
 * (autocannon, 50 connections), against a reference measured in the same run on the same Redis: the same
 * items written by node-redis straight to a stream (XADD, pipelined, no HTTP, no Lua, no trimming).
 * Target: at least 50,000 items/s in batches. Run: `npm run bench:append`.
 */
import autocannon from 'autocannon'
import { createClient } from 'redis'
import { buildService, startRedis, startService } from './support/processes.js'
import { reportFigures } from './support/report.js'

const SECONDS = Number(process.env.BENCH_DURATION_SECONDS ?? 10)
const TOKEN = 'bench-api-token-0123456789abcdefghijklmnop'
const ITEM = { event: 'tick', data: { sym: 'ACME', px: 12.5, seq: 1, note: 'a small JSON item' } }

async function itemsPerSecond(url: string, body: string, itemsPerRequest: number) {
  const load = (duration: number) =>
    autocannon({
      url,
      method: 'POST',
      connections: 50,
      duration,
      headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' },
      body,
    })
  await load(2)
  const result = await load(SECONDS)
  return {
    itemsPerSecond: result.requests.average * itemsPerRequest,
    p99Ms: result.latency.p99,
    non2xx: result.non2xx,
  }
}

/** The reference: the same items XADDed by node-redis, 100 per pipeline, for SECONDS. */
async function rawXaddPerSecond(redisUrl: string): Promise<number> {
  const client = createClient({ url: redisUrl })
  await client.connect()
  const data = JSON.stringify(ITEM.data)
  let items = 0
  const until = performance.now() + SECONDS * 1000
  const started = performance.now()
  while (performance.now() < until) {
    const batch = Array.from({ length: 100 }, () => client.xAdd('reference', '*', { e: ITEM.event, d: data }))
    await Promise.all(batch)
    items += 100
  }
  const perSecond = items / ((performance.now() - started) / 1000)
  await client.destroy()
  return perSecond
}

buildService()
const redis = await startRedis()
try {
  const service = await startService({
    REDIS_URL: redis.url,
    SESSION_SECRET: TOKEN,
    API_TOKEN: TOKEN,
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
  })
  let single: Awaited<ReturnType<typeof itemsPerSecond>>
  let batch: Awaited<ReturnType<typeof itemsPerSecond>>
  try {
    const base = `http://127.0.0.1:${service.port}`
    single = await itemsPerSecond(`${base}/buffers/single/items`, JSON.stringify(ITEM), 1)
    batch = await itemsPerSecond(
      `${base}/buffers/batch/items`,
      JSON.stringify({ items: Array(100).fill(ITEM) }),
      100,
    )
  } finally {
    await service.stop()
  }
  const reference = await rawXaddPerSecond(redis.url)
  const row = (name: string, r: typeof single) =>
    `${name.padEnd(34)} ${r.itemsPerSecond.toFixed(0).padStart(8)} items/s  p99 ${String(r.p99Ms).padStart(4)} ms  non-2xx ${r.non2xx}`
  console.log('\nAppends, 50 connections, loopback, one redis-server, BUFFER_MAX_LEN=10000 (trimming on)')
  console.log(row('POST one item per request', single))
  console.log(row('POST batches of 100', batch))
  console.log(`${'reference: node-redis XADD x100'.padEnd(34)} ${reference.toFixed(0).padStart(8)} items/s`)
  console.log(
    `\nbatches: ${batch.itemsPerSecond.toFixed(0)} items/s (target >= 50000) ${batch.itemsPerSecond >= 50_000 ? 'PASS' : 'MISS'}`,
  )
  console.log(`batches vs reference: ${(batch.itemsPerSecond / reference).toFixed(2)}x`)
  console.log(`single vs reference: ${(single.itemsPerSecond / reference).toFixed(2)}x`)
  const benchmark = 'appends'
  const xadd = { name: 'node-redis XADD x100 pipelined', value: reference }
  reportFigures([
    {
      benchmark,
      figure: 'batches of 100',
      unit: 'items/s',
      ours: batch.itemsPerSecond,
      baseline: xadd,
      ratio: batch.itemsPerSecond / reference,
      target: '>= 50,000 items/s',
      pass: batch.itemsPerSecond >= 50_000,
    },
    {
      benchmark,
      figure: 'one item per request',
      unit: 'items/s',
      ours: single.itemsPerSecond,
      baseline: xadd,
      ratio: single.itemsPerSecond / reference,
    },
    { benchmark, figure: 'p99 latency, batches of 100', unit: 'ms', ours: batch.p99Ms },
    {
      benchmark,
      figure: 'non-2xx responses',
      unit: '',
      ours: single.non2xx + batch.non2xx,
      target: '0',
      pass: single.non2xx + batch.non2xx === 0,
    },
  ])
} finally {
  await redis.stop()
}
