import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { once } from 'node:events'
import { createServer } from 'node:net'
import { fileURLToPath } from 'node:url'
import { systemRedisBinary } from '../../scripts/redis-binary.js'
import { freePort } from '../../tests/support/net.js'

/** Helpers shared by the benchmarks: a private redis-server, the built service, baseline servers. */

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url))

/** Builds dist/ so the service measured is what `npm start` runs. */
export function buildService(): void {
  execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: REPO_ROOT, stdio: 'inherit' })
  execFileSync('node', ['scripts/copy-assets.mjs'], { cwd: REPO_ROOT, stdio: 'inherit' })
}

export async function waitForPort(port: number, child: ChildProcess, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`process exited with ${child.exitCode} before listening`)
    const open = await new Promise<boolean>((resolve) => {
      const socket = createServer().listen(port, '127.0.0.1')
      socket.on('listening', () => socket.close(() => resolve(false)))
      socket.on('error', () => resolve(true))
    })
    if (open) return
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  throw new Error(`nothing listened on ${port} within ${timeoutMs} ms`)
}

export interface Running {
  port: number
  child: ChildProcess
  stop(): Promise<void>
}

async function track(child: ChildProcess, port: number): Promise<Running> {
  await waitForPort(port, child)
  return {
    port,
    child,
    stop: async () => {
      if (child.exitCode !== null) return
      child.kill('SIGTERM')
      await once(child, 'exit')
    },
  }
}

/**
 * A throw-away redis-server on a free loopback port, without persistence; `args` add to its command line
 * (`['--replicaof', '127.0.0.1', '6380']` makes it a replica).
 */
export async function startRedis(args: readonly string[] = []): Promise<Running & { url: string }> {
  const port = await freePort()
  const child = spawn(
    systemRedisBinary(),
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...args],
    {
      stdio: 'ignore',
    },
  )
  const running = await track(child, port)
  return { ...running, url: `redis://127.0.0.1:${port}` }
}

/** Runs a TypeScript file (a baseline app) as its own process with `env`. */
export async function startScript(file: string, env: Record<string, string>): Promise<Running> {
  const port = await freePort()
  const child = spawn(process.execPath, ['--import', 'tsx', file], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env, PORT: String(port) },
    stdio: ['ignore', 'ignore', 'inherit'],
  })
  return track(child, port)
}

export interface ServiceBuild {
  /** The checkout whose `dist/main.js` runs; this one by default. */
  root?: string
  /** Extra node flags, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`. */
  nodeArgs?: readonly string[]
}

/** The built service (`node dist/main.js`), production mode, logs discarded. */
export async function startService(
  env: Record<string, string>,
  { root = REPO_ROOT, nodeArgs = [] }: ServiceBuild = {},
): Promise<Running> {
  const port = await freePort()
  const child = spawn(process.execPath, [...nodeArgs, 'dist/main.js'], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', ...env, PORT: String(port) },
    stdio: ['ignore', 'ignore', 'inherit'],
  })
  return track(child, port)
}
