/**
 * `npm run local`: the service on a machine without Docker, against a real, throw-away `redis-server`.
 *
 * It starts redis-server through redis-memory-server (the binary on PATH, never a download), then runs
 * src/main.ts under tsx with REDIS_URL pointing at it and freshly generated development secrets. Nothing
 * here is a fallback: main.ts still requires REDIS_URL and this script supplies it. Ctrl-C (SIGINT) or
 * SIGTERM stops the service gracefully, then Redis; if the service dies on its own, Redis goes with it.
 *
 * Both children run in their own process groups, so a Ctrl-C in the terminal reaches only this script:
 * the service then gets exactly one signal (a second would force it to exit 1), and Redis outlives the
 * service's drain instead of dying under it.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { RedisMemoryServer } from 'redis-memory-server'
import { systemRedisBinary } from './redis-binary.js'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const ENTRY_POINT = fileURLToPath(new URL('../src/main.ts', import.meta.url))
/** tsx compiles on the fly and main.ts may spend REDIS_CONNECT_TIMEOUT_MS connecting: be generous. */
const READY_WITHIN_MS = 60_000
const POLL_EVERY_MS = 100

type Exit = { code: number | null; signal: NodeJS.Signals | null }

function fail(message: string): never {
  process.stderr.write(`npm run local: ${message}\n`)
  process.exit(1)
}

/** 32 random bytes, 43 base64url characters: above the 32-character minimum of env.ts. */
const throwAwaySecret = () => randomBytes(32).toString('base64url')

function localPort(): string {
  const port = process.env.PORT || '3000'
  if (port === '0') fail('PORT=0 (a random port) is not supported here: pick one, e.g. PORT=3001')
  return port
}

async function startRedis(): Promise<{ server: RedisMemoryServer; url: string; child: ChildProcess }> {
  let systemBinary: string
  try {
    systemBinary = systemRedisBinary()
  } catch (error) {
    fail((error as Error).message)
  }
  const server = new RedisMemoryServer({ binary: { systemBinary }, spawn: { detached: true } })
  await server.start()
  // getInstanceInfo() is `false` when no instance runs.
  const child = (server.getInstanceInfo() || undefined)?.childProcess
  if (!child) fail('redis-server did not start')
  return {
    server,
    url: `redis://${await server.getHost()}:${await server.getPort()}`,
    child,
  }
}

/** Polls /readyz until it answers 200; false if the service exits or the deadline passes first. */
async function becameReady(readyUrl: string, service: ChildProcess): Promise<boolean> {
  const deadline = performance.now() + READY_WITHIN_MS
  while (performance.now() < deadline && service.exitCode === null && service.signalCode === null) {
    try {
      const response = await fetch(readyUrl, { signal: AbortSignal.timeout(2000) })
      await response.body?.cancel()
      if (response.status === 200) return true
    } catch {
      // Not listening yet.
    }
    await sleep(POLL_EVERY_MS)
  }
  return false
}

async function main() {
  const port = localPort()
  const children: ChildProcess[] = []
  // A crash of this script must not strand its children: in their own process groups, they would outlive it.
  process.on('exit', () => {
    for (const child of children) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    }
  })

  let service: ChildProcess | undefined
  let stopRequested = false
  let stopping: NodeJS.Signals | undefined
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return
    stopping = signal
    service?.kill(signal)
  }
  const onSignal = (signal: NodeJS.Signals) => {
    // npm and tsx relay a terminal's Ctrl-C, so one keypress can arrive twice: act on the first only.
    if (stopRequested) return
    stopRequested = true
    process.stdout.write(`\nnpm run local: ${signal}: stopping the service, then Redis\n`)
    stop(signal)
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)

  const redis = await startRedis()
  children.push(redis.child)
  if (stopRequested) {
    await redis.server.stop()
    process.exit(0)
  }

  const apiToken = process.env.API_TOKEN || throwAwaySecret()
  const child = spawn(process.execPath, ['--import', 'tsx', ENTRY_POINT], {
    cwd: ROOT,
    env: {
      ...process.env,
      PORT: port,
      REDIS_URL: redis.url,
      SESSION_SECRET: process.env.SESSION_SECRET || throwAwaySecret(),
      GRANT_SECRET: process.env.GRANT_SECRET || throwAwaySecret(),
      // The demo page gets its grant from /dev/grant: fine for a throw-away local service only.
      DEV_GRANTS: 'true',
      API_TOKEN: apiToken,
    },
    stdio: ['ignore', 'inherit', 'inherit'],
    detached: true,
  })
  service = child
  children.push(child)
  const exited = once(child, 'exit').then(([code, signal]): Exit => ({ code, signal }))

  const base = `http://localhost:${port}`
  if (await becameReady(`http://127.0.0.1:${port}/readyz`, child)) {
    process.stdout.write(
      [
        '',
        `hono-redis-service is running: ${base}`,
        `  page:       ${base}/`,
        `  readiness:  ${base}/readyz`,
        `  liveness:   ${base}/healthz`,
        `  redis:      ${redis.url} (throw-away, emptied on exit)`,
        `  API token:  ${process.env.API_TOKEN ? '(yours, from API_TOKEN)' : apiToken}`,
        `  pids:       service ${child.pid}, redis-server ${redis.child.pid}`,
        'Press Ctrl-C to stop both.',
        '',
      ].join('\n'),
    )
  } else if (!stopping && child.exitCode === null && child.signalCode === null) {
    process.stderr.write(`npm run local: ${base}/readyz did not answer 200 within ${READY_WITHIN_MS} ms\n`)
    stop('SIGTERM')
  }

  const exit = await exited
  if (!stopping) {
    process.stderr.write(
      `npm run local: the service exited on its own (${exit.signal ?? `code ${exit.code}`}); stopping Redis. ` +
        `If port ${port} is in use, run with another PORT.\n`,
    )
  }
  await redis.server.stop()
  // Stopped on request: the service's own exit code (0 after a clean drain), or 0 if the signal ended it
  // before it had installed its handlers. Otherwise this run failed.
  const stoppedBySignal = exit.signal !== null && exit.signal === stopping
  process.exit(stopRequested ? (exit.code ?? (stoppedBySignal ? 0 : 1)) : exit.code || 1)
}

await main()
