import { RedisMemoryServer } from 'redis-memory-server'
import { systemRedisBinary } from '../../scripts/redis-binary.js'

/**
 * Real, throw-away `redis-server` processes for tests, through redis-memory-server. It never downloads:
 * it runs the `redis-server` on PATH (REDISMS_SYSTEM_BINARY wins when set), and says how to get one.
 */

/** A dedicated server a test may stop, restart on the same port, or freeze (SIGSTOP). */
export class TestRedisServer {
  private constructor(private readonly server: RedisMemoryServer) {}

  /**
   * `args` are extra redis-server arguments, e.g. `['--requirepass', 'x']`; `port` defaults to a free one.
   */
  static async start(args: string[] = [], port?: number): Promise<TestRedisServer> {
    const server = new RedisMemoryServer({
      binary: { systemBinary: systemRedisBinary() },
      instance: { args, ...(port !== undefined && { port }) },
    })
    await server.start()
    return new TestRedisServer(server)
  }

  async url(): Promise<string> {
    return `redis://${await this.server.getHost()}:${await this.server.getPort()}`
  }

  stop(): Promise<boolean> {
    return this.server.stop()
  }

  /** Starts again on the port it had, like a Redis coming back after an outage. */
  restart(): Promise<boolean> {
    return this.server.start()
  }

  /** SIGSTOP: the server keeps its connections but answers nothing, like a hung Redis. */
  freeze(): void {
    this.signal('SIGSTOP')
  }

  thaw(): void {
    this.signal('SIGCONT')
  }

  private signal(signal: NodeJS.Signals): void {
    // getInstanceInfo() is `false` when no instance runs.
    const child = this.server.getInstanceInfo() || undefined
    if (!child?.childProcess) throw new Error('redis-server is not running')
    child.childProcess.kill(signal)
  }
}
