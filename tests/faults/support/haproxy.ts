import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from '../../support/net.js'

/** Debian's `haproxy` (.ci/run installs it when missing). */
export const HAPROXY = process.env.HAPROXY_BINARY ?? '/usr/sbin/haproxy'

export function haproxyMissing(): string | undefined {
  return existsSync(HAPROXY) ? undefined : `${HAPROXY} is missing (Debian: apt-get install haproxy)`
}

/**
 * The backend section of doc/ops-deploy.md ("HAProxy in front"), with the replicas' loopback addresses.
 * Keep the two in step: this is the configuration the rolling-restart suite proves.
 */
export function backendSection(servers: { name: string; port: number }[], extra: string[] = []): string {
  return `backend hono_redis_service
    mode http
    balance roundrobin
    option forwardfor
    option httpchk
    http-check send meth GET uri /readyz ver HTTP/1.1 hdr Host api.example.com
    http-check expect status 200
    default-server inter 2s fall 2 rise 2
    retries 3
    option redispatch 1
    retry-on conn-failure empty-response response-timeout
    http-request disable-l7-retry if !METH_GET !METH_HEAD
    timeout server 60s
${extra.map((line) => `    ${line}\n`).join('')}${servers.map((s) => `    server ${s.name} 127.0.0.1:${s.port} check`).join('\n')}
`
}

/**
 * HAProxy in the foreground on a free loopback port, in front of `servers`, with an admin socket to read
 * each server's state and a log of every request on stdout (kept for the report).
 */
export class HaProxy {
  log = ''

  private constructor(
    readonly port: number,
    private readonly dir: string,
    private readonly child: ChildProcess,
  ) {
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      this.log += chunk
    })
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      this.log += chunk
    })
  }

  /** `extra`: more backend lines, for trying a setting before it goes into doc/ops-deploy.md. */
  static async start(servers: { name: string; port: number }[], extra: string[] = []): Promise<HaProxy> {
    const port = await freePort()
    const dir = mkdtempSync(join(tmpdir(), 'fault-haproxy-'))
    const config = join(dir, 'haproxy.cfg')
    writeFileSync(
      config,
      `global
    maxconn 4096
    stats socket ${join(dir, 'admin.sock')} mode 600 level admin
    log stdout format raw local0 info

defaults
    mode http
    log global
    option httplog
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    timeout http-keep-alive 10s

frontend public
    bind 127.0.0.1:${port}
    default_backend hono_redis_service

${backendSection(servers, extra)}`,
    )
    execFileSync(HAPROXY, ['-c', '-q', '-f', config])
    const child = spawn(HAPROXY, ['-db', '-f', config], { stdio: ['ignore', 'pipe', 'pipe'] })
    const haproxy = new HaProxy(port, dir, child)
    await haproxy.waitFor((state) => servers.every((s) => state[s.name] === 'UP'), 15_000)
    return haproxy
  }

  /** Each server's status as HAProxy sees it (`UP`, `DOWN`, `UP 1/2`, ...), from `show stat`. */
  async state(): Promise<Record<string, string>> {
    const csv = await this.#command('show stat')
    const lines = csv.split('\n').filter(Boolean)
    const header = (lines[0] ?? '').replace(/^# /, '').split(',')
    const name = header.indexOf('svname')
    const status = header.indexOf('status')
    const state: Record<string, string> = {}
    for (const line of lines.slice(1)) {
      const fields = line.split(',')
      const server = fields[name] ?? ''
      if (server !== 'FRONTEND' && server !== 'BACKEND') state[server] = fields[status] ?? ''
    }
    return state
  }

  /** Polls the state until `ready` holds; resolves with the ms it took. */
  async waitFor(ready: (state: Record<string, string>) => boolean, timeoutMs: number): Promise<number> {
    const started = performance.now()
    const deadline = started + timeoutMs
    let last: Record<string, string> = {}
    while (performance.now() < deadline) {
      if (this.child.exitCode !== null) throw new Error(`haproxy exited: ${this.log.slice(-1000)}`)
      last = await this.state().catch(() => ({}))
      if (ready(last)) return performance.now() - started
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    throw new Error(`haproxy state still ${JSON.stringify(last)} after ${timeoutMs} ms`)
  }

  /** Log lines of requests that did not end normally (termination state other than `----`). */
  abnormalLines(): string[] {
    return this.log
      .split('\n')
      .filter((line) => / [a-zA-Z-]{4} \d+\/\d+\/\d+\/\d+\/\d+ /.test(line) && !/ ---- /.test(line))
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null) {
      this.child.kill('SIGTERM')
      await once(this.child, 'exit')
    }
    rmSync(this.dir, { recursive: true, force: true })
  }

  #command(command: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const socket = connect(join(this.dir, 'admin.sock'))
      let reply = ''
      socket.setEncoding('utf8')
      socket.on('connect', () => socket.end(`${command}\n`))
      socket.on('data', (chunk: string) => {
        reply += chunk
      })
      socket.on('end', () => resolve(reply))
      socket.on('error', reject)
    })
  }
}
