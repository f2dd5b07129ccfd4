import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { freePort } from '../support/net.js'

/**
 * `npm run local` as a developer uses it (`node --import tsx scripts/local.ts` is what `tsx` runs): a real
 * redis-server and the service come up, /readyz answers 200, and a stop leaves no process behind.
 */

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const STARTED_WITHIN_MS = 15_000

interface LocalRun {
  child: ChildProcess
  base: string
  servicePid: number
  redisPid: number
  output: () => string
  exited: Promise<number | null>
}

const leftovers: number[] = []
// `npm run local` runs in a process group of its own (detached), so that a test that failed half-way kills
// the script and the service it started together: SIGKILL to the script alone would orphan the service.
afterEach(() => {
  for (const pid of leftovers.splice(0)) {
    if (!isAlive(pid)) continue
    try {
      process.kill(-pid, 'SIGKILL')
    } catch {
      process.kill(pid, 'SIGKILL') // not a group leader: the service, once its pid is known
    }
  }
})

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

async function startLocal(): Promise<LocalRun> {
  const port = await freePort()
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/local.ts'], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      ...(process.env.REDISMS_SYSTEM_BINARY && { REDISMS_SYSTEM_BINARY: process.env.REDISMS_SYSTEM_BINARY }),
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  })
  if (child.pid) leftovers.push(child.pid)
  let output = ''
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    output += chunk
  })
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    output += chunk
  })
  const exited = once(child, 'exit').then(([code]) => code as number | null)

  const deadline = performance.now() + STARTED_WITHIN_MS
  while (performance.now() < deadline && child.exitCode === null) {
    const pids = /pids: +service (\d+), redis-server (\d+)/.exec(output)
    if (pids && output.includes(`http://localhost:${port}`)) {
      const [servicePid, redisPid] = [Number(pids[1]), Number(pids[2])]
      leftovers.push(servicePid, redisPid)
      return { child, base: `http://127.0.0.1:${port}`, servicePid, redisPid, output: () => output, exited }
    }
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  throw new Error(`npm run local did not print its URL:\n${output}`)
}

describe('npm run local', () => {
  it('serves /readyz against its own redis-server, and SIGINT stops both with exit 0', async () => {
    const local = await startLocal()
    expect(local.output()).toContain('/readyz')
    expect(isAlive(local.redisPid)).toBe(true)

    const ready = await fetch(`${local.base}/readyz`)
    expect(ready.status).toBe(200)
    expect(await ready.json()).toMatchObject({ status: 'pass' })

    local.child.kill('SIGINT')
    expect(await local.exited).toBe(0)
    expect(isAlive(local.servicePid)).toBe(false)
    expect(isAlive(local.redisPid)).toBe(false)
    await expect(fetch(`${local.base}/healthz`)).rejects.toThrow()
  })

  it('stops redis-server and exits non-zero when the service dies on its own', async () => {
    const local = await startLocal()

    process.kill(local.servicePid, 'SIGKILL')
    expect(await local.exited).not.toBe(0)
    expect(isAlive(local.redisPid)).toBe(false)
    expect(local.output()).toContain('the service exited on its own')
  })
})
