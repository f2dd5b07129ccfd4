import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { systemRedisBinary } from '../../scripts/redis-binary.js'
import { freePort } from './net.js'
import { redisCli } from './redis-cluster.js'

/**
 * One `redis-server` process of a test topology (a cluster node, a primary, a replica, a sentinel, a TLS
 * server): its own free loopback port and temporary directory, killed and its directory removed by
 * {@link RedisProcess.stop}. Unlike TestRedisServer (redis-memory-server), it takes any configuration,
 * runs in sentinel mode, and keeps its directory across a kill and restart (a cluster node's nodes.conf).
 */
export class RedisProcess {
  #child: ChildProcess | undefined
  #exited: Promise<unknown> = Promise.resolve()
  #log = ''

  private constructor(
    readonly port: number,
    readonly dir: string,
    /** The configuration file's lines, without `port`, `bind` and `dir`, which are set here. */
    private readonly config: readonly string[],
    private readonly mode: { sentinel: boolean; tls: boolean },
  ) {}

  /**
   * Starts `redis-server` (or, with `sentinel`, a sentinel) with `config` lines, e.g. `['cluster-enabled
   * yes']`; resolves once it accepts connections. `port` defaults to a free one; with `tls` it is a TLS
   * port and there is no plain one (the config must name the certificate files).
   */
  static async start(
    config: readonly string[] = [],
    { sentinel = false, tls = false, port }: { sentinel?: boolean; tls?: boolean; port?: number } = {},
  ): Promise<RedisProcess> {
    const dir = mkdtempSync(join(tmpdir(), 'topology-redis-'))
    const node = new RedisProcess(port ?? (await freePort()), dir, config, { sentinel, tls })
    try {
      await node.restart()
    } catch (error) {
      await node.stop()
      throw error
    }
    return node
  }

  /** `host:port` on loopback. */
  get address(): string {
    return `127.0.0.1:${this.port}`
  }

  get running(): boolean {
    return this.#child !== undefined && this.#child.exitCode === null && this.#child.signalCode === null
  }

  /** What the process wrote to stdout and stderr, for a failing test's message. */
  get log(): string {
    return this.#log
  }

  /** Starts the process again on its port and directory; resolves once it accepts TCP connections. */
  async restart(timeoutMs = 10_000): Promise<void> {
    if (this.running) throw new Error(`redis on ${this.port} is already running`)
    // A sentinel rewrites its configuration file, so it must be a file of its own, in its directory.
    const { sentinel, tls } = this.mode
    const file = join(this.dir, sentinel ? 'sentinel.conf' : 'redis.conf')
    if (!existsSync(file)) {
      const ports = tls ? ['port 0', `tls-port ${this.port}`] : [`port ${this.port}`]
      // No snapshots: a test's data is throw-away (a sentinel has no dataset to save).
      const lines = [
        ...ports,
        'bind 127.0.0.1',
        `dir ${this.dir}`,
        ...(sentinel ? [] : ['save ""']),
        ...this.config,
      ]
      writeFileSync(file, `${lines.join('\n')}\n`)
    }
    const child = spawn(systemRedisBinary(), [file, ...(sentinel ? ['--sentinel'] : [])], {
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    const keepLog = (chunk: Buffer) => {
      this.#log = (this.#log + chunk.toString('utf8')).slice(-20_000)
    }
    child.stdout?.on('data', keepLog)
    child.stderr?.on('data', keepLog)
    this.#child = child
    this.#exited = once(child, 'exit')
    const deadline = performance.now() + timeoutMs
    while (performance.now() < deadline) {
      if (!this.running) throw new Error(`redis on ${this.port} exited at start:\n${this.#log}`)
      if (await accepts(this.port)) return
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
    throw new Error(`redis on ${this.port} did not accept connections within ${timeoutMs} ms:\n${this.#log}`)
  }

  /** SIGSTOP: the process holds its connections but answers nothing until {@link resume}. */
  pause(): void {
    if (this.running) this.#child?.kill('SIGSTOP')
  }

  /** SIGCONT after {@link pause}. */
  resume(): void {
    if (this.running) this.#child?.kill('SIGCONT')
  }

  /** SIGKILL; resolves once the process is gone and its port is free again. */
  async kill(): Promise<void> {
    const child = this.#child
    if (!child || !this.running) return
    child.kill('SIGCONT') // a frozen process must be able to die
    child.kill('SIGKILL')
    await this.#exited
  }

  /** Kills the process and removes its directory. */
  async stop(): Promise<void> {
    await this.kill()
    rmSync(this.dir, { recursive: true, force: true })
  }
}

/** Resolves once the primary on `port` has a replica online (its first sync done), as INFO says. */
export async function replicaOnline(port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = performance.now() + timeoutMs
  while (!/slave0:.*state=online/.test(await redisCli(['-p', String(port), 'info', 'replication']))) {
    if (performance.now() > deadline) throw new Error(`no replica online at ${port} within ${timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/** Whether something accepts a TCP connection on the loopback `port` right now. */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    const done = (ok: boolean) => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(1000, () => done(false))
    socket.on('error', () => done(false))
    socket.on('connect', () => done(true))
  })
}
