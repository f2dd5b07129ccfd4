import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { systemRedisBinary } from '../../../scripts/redis-binary.js'
import { freePort } from '../../support/net.js'

/**
 * A durable redis-server for fault suites: its own directory, `appendonly yes` with `appendfsync always`
 * (a write is on disk before Redis replies, so every acknowledged write survives SIGKILL), no RDB
 * snapshots. It can be killed (SIGKILL), restarted on the same port and directory, frozen (SIGSTOP) and
 * thawed. Loopback only.
 */
export class DurableRedis {
  #child: ChildProcess | undefined
  #exited: Promise<unknown> = Promise.resolve()

  private constructor(
    readonly port: number,
    readonly dir: string,
  ) {}

  static async start(): Promise<DurableRedis> {
    const redis = new DurableRedis(await freePort(), mkdtempSync(join(tmpdir(), 'fault-redis-')))
    await redis.restart()
    return redis
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`
  }

  get pid(): number | undefined {
    return this.#child?.pid
  }

  /** Starts redis-server on its port and directory (loading what its AOF holds); resolves once it answers PING. */
  async restart(timeoutMs = 10_000): Promise<void> {
    if (this.#child && this.#child.exitCode === null && this.#child.signalCode === null) {
      throw new Error('redis-server is already running')
    }
    const child = spawn(
      systemRedisBinary(),
      [
        '--port',
        String(this.port),
        '--bind',
        '127.0.0.1',
        '--dir',
        this.dir,
        '--appendonly',
        'yes',
        '--appendfsync',
        'always',
        '--save',
        '',
        '--daemonize',
        'no',
      ],
      { stdio: 'ignore' },
    )
    this.#child = child
    this.#exited = once(child, 'exit')
    const deadline = performance.now() + timeoutMs
    while (performance.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode} at start`)
      if (await pingOnce(this.port)) return
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    throw new Error(`redis-server on ${this.port} did not answer PING within ${timeoutMs} ms`)
  }

  /** SIGKILL: no shutdown, no final fsync; resolves once the process is gone (its port is free again). */
  async kill(): Promise<void> {
    const child = this.#child
    if (!child || child.exitCode !== null || child.signalCode !== null) return
    child.kill('SIGCONT') // a frozen process must be able to die
    child.kill('SIGKILL')
    await this.#exited
  }

  /** SIGSTOP: connections stay open, nothing is answered. */
  freeze(): void {
    this.#child?.kill('SIGSTOP')
  }

  thaw(): void {
    this.#child?.kill('SIGCONT')
  }

  async stop(): Promise<void> {
    await this.kill()
    rmSync(this.dir, { recursive: true, force: true })
  }
}

/** True when a PING on a fresh connection is answered +PONG within a second (not LOADING, not refused). */
function pingOnce(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    let reply = ''
    const done = (ok: boolean) => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(1000, () => done(false))
    socket.on('error', () => done(false))
    socket.on('connect', () => socket.write('PING\r\n'))
    socket.setEncoding('utf8').on('data', (chunk: string) => {
      reply += chunk
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'))
    })
  })
}
