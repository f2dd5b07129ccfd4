import onExit from 'on-exit-leak-free'
import { type DestinationStream, pino } from 'pino'

export interface LogDestinationOptions {
  /** File descriptor to write to. Default: 1 (stdout). */
  fd?: number
  /** Lines are written as soon as this many characters wait, even within one turn. Default: 65,536. */
  batchChars?: number
}

type SonicBoom = ReturnType<typeof pino.destination>

/**
 * pino's destination for the process: the lines logged during one turn of the event loop are written
 * together, in one synchronous write(2), when the turn ends (`setImmediate`), and whatever waits is
 * written when the process exits. Only a process that dies without exiting (SIGKILL, an unhandled
 * signal, a fatal V8 error) loses lines: those of the turn it interrupts.
 *
 * A write(2) per line would be the largest cost of a session read; under load one turn answers many
 * requests, so their access-log lines share one write. sonic-boom (`pino.destination`, pino's own
 * writer) does the writing, with its handling of partial writes and EAGAIN; it is handed whole batches
 * because, given lines one at a time, it re-measures its whole pending block on every line.
 *
 * Writes are synchronous, pino's default: if stdout stops draining, the service waits rather than
 * holding an unbounded backlog of lines in memory.
 *
 * @example
 * ```ts
 * const logger = pino({ level: 'info' }, createLogDestination())
 * ```
 */
export function createLogDestination({
  fd = 1,
  batchChars = 65_536,
}: LogDestinationOptions = {}): DestinationStream {
  const destination = new LinesPerTurn(pino.destination({ dest: fd, sync: true }), batchChars)
  onExit.register(destination, (lines) => lines.flushSync())
  return destination
}

class LinesPerTurn implements DestinationStream {
  #lines: string[] = []
  #chars = 0
  #scheduled: NodeJS.Immediate | undefined

  constructor(
    private readonly writer: SonicBoom,
    private readonly batchChars: number,
  ) {}

  write(line: string): void {
    this.#lines.push(line)
    this.#chars += line.length
    if (this.#chars >= this.batchChars) this.flushSync()
    else this.#scheduled ??= setImmediate(() => this.flushSync())
  }

  /** Writes every waiting line before returning (also pino's `logger.flush()`). */
  flushSync(): void {
    clearImmediate(this.#scheduled)
    this.#scheduled = undefined
    if (this.#lines.length === 0) return
    const text = this.#lines.join('')
    this.#lines = []
    this.#chars = 0
    this.writer.write(text)
  }

  flush(callback?: (error?: Error) => void): void {
    this.flushSync()
    callback?.()
  }
}
