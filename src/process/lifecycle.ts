/**
 * What the process tells the app about its own life: whether it is shutting down, and what must be
 * ended before the server can close (long-lived responses such as SSE streams).
 * One per app; main.ts drives it on SIGTERM/SIGINT.
 */
export class Lifecycle {
  #shuttingDown = false
  readonly #closers = new Set<() => void | Promise<void>>()

  get shuttingDown(): boolean {
    return this.#shuttingDown
  }

  /** Readiness fails from now on; requests are still served. */
  beginShutdown(): void {
    this.#shuttingDown = true
  }

  /** Registers something to end on close. */
  onClose(closer: () => void | Promise<void>): void {
    this.#closers.add(closer)
  }

  /** Ends everything registered, e.g. open SSE streams, so the HTTP server can finish. */
  async close(): Promise<void> {
    this.beginShutdown()
    const closers = [...this.#closers]
    this.#closers.clear()
    await Promise.allSettled(closers.map((closer) => closer()))
  }
}
