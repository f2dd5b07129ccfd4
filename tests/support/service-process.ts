import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { afterEach } from 'vitest'

/** The built entry point, exactly what `npm start` and the Docker image run (global setup builds it). */
export const ENTRY_POINT = fileURLToPath(new URL('../../dist/main.js', import.meta.url))

export interface Exit {
  code: number | null
  signal: NodeJS.Signals | null
  /** Milliseconds from spawn to exit. */
  elapsedMs: number
  /**
   * The service's own share of them: `elapsedMs` less the start-up and exit of a bare `node` spawned
   * beside it. Upper time bounds use it, so that they measure the service, not how long a loaded machine
   * takes to start a Node binary; lower bounds (a budget honoured) use `elapsedMs`.
   */
  ownMs: number
}

/** How long a bare `node` takes to start and exit, spawned now: the part of a child's time that is not its own. */
async function bareNodeMs(): Promise<number> {
  const startedAt = performance.now()
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' })
  await once(child, 'exit')
  return performance.now() - startedAt
}

/**
 * How long after its Redis budget a service that cannot reach Redis may take to exit 69, in its own time
 * (`Exit.ownMs`): loading its modules (the budget runs alongside, but `redis` itself loads first) and
 * exiting, which on a 2-core machine running the rest of the suite beside it takes a few hundred ms to 2 s.
 */
export const EXIT_AFTER_BUDGET_SLACK_MS = 3000

/**
 * Options for a describe whose tests bound a spawned service's wall-clock time. Those bounds hold with a
 * wide margin on an idle machine, but the suite runs two workers on two cores, and a Chromium launch or a
 * cluster start in the other worker can stall a spawn for a second: a bound missed once is tried again,
 * and only a service that misses it every time fails.
 */
export const TIME_BOUNDED = { retry: 2 } as const

/** The real service as a child process, with its output captured and its exit awaited. */
export class ServiceProcess {
  stdout = ''
  stderr = ''
  readonly exited: Promise<Exit>
  private readonly startedAt = performance.now()

  private constructor(readonly child: ChildProcess) {
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      this.stdout += chunk
    })
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderr += chunk
    })
    const nodeMs = bareNodeMs()
    this.exited = once(child, 'exit').then(async ([code, signal]) => {
      const elapsedMs = performance.now() - this.startedAt
      return {
        code: code as number | null,
        signal: signal as NodeJS.Signals | null,
        elapsedMs,
        ownMs: elapsedMs - (await nodeMs),
      }
    })
  }

  /**
   * Spawns with exactly `env` (plus PATH): nothing leaks in from the test runner's environment.
   * LOG_LEVEL is info, since `listening()` reads the service's info-level "listening" line.
   */
  static spawn(env: Record<string, string>): ServiceProcess {
    const child = spawn(process.execPath, [ENTRY_POINT], {
      env: { PATH: process.env.PATH ?? '', ...env, LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    return new ServiceProcess(child)
  }

  /** Resolves with the base URL once the service logs that it listens; rejects if it exits first. */
  async listening(timeoutMs = 10_000): Promise<string> {
    const deadline = performance.now() + timeoutMs
    while (performance.now() < deadline) {
      const match = /"msg":"listening"/.test(this.stdout) && /"url":"http:\/\/[^:]+:(\d+)"/.exec(this.stdout)
      if (match) return `http://127.0.0.1:${match[1]}`
      if (this.child.exitCode !== null) {
        throw new Error(`service exited with ${this.child.exitCode} before listening:\n${this.stderr}`)
      }
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    throw new Error(`service did not listen within ${timeoutMs} ms:\n${this.stdout}\n${this.stderr}`)
  }

  kill(signal: NodeJS.Signals = 'SIGTERM'): void {
    this.child.kill(signal)
  }

  /** For afterEach: make sure no service outlives its test. */
  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGKILL')
      await this.exited
    }
  }
}

/**
 * For a test file that spawns services: a function that spawns one (see ServiceProcess.spawn), each
 * killed after the test that spawned it.
 */
export function spawnsServices(): (env: Record<string, string>) => ServiceProcess {
  const running: ServiceProcess[] = []
  afterEach(async () => {
    await Promise.all(running.splice(0).map((service) => service.stop()))
  })
  return (env) => {
    const service = ServiceProcess.spawn(env)
    running.push(service)
    return service
  }
}
