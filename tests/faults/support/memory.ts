import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const PRELOAD = fileURLToPath(new URL('./memory-probe.cjs', import.meta.url))

export interface MemorySample {
  /** Resident set size, MiB. */
  rssMiB: number
  /** V8 heap in use after full garbage collections (finalizers run in between), MiB: what a leak grows. */
  heapMiB: number
  /** Memory outside the V8 heap held by JS objects (Buffers), MiB. */
  externalMiB: number
}

/**
 * Memory of a service process after a full GC, on demand: the process is started with the environment
 * from {@link env} (a preload that answers SIGUSR2, see memory-probe.cjs), then {@link sample} asks it.
 */
export class MemoryProbe {
  readonly #dir = mkdtempSync(join(tmpdir(), 'memory-probe-'))
  readonly #file = join(this.#dir, 'samples.jsonl')

  constructor() {
    writeFileSync(this.#file, '')
  }

  /** Environment variables to add to the service's. */
  get env(): Record<string, string> {
    return { NODE_OPTIONS: `--expose-gc --require=${PRELOAD}`, MEMORY_PROBE_FILE: this.#file }
  }

  /** Asks for a sample; with `snapshotTo`, the process also writes a heap snapshot to that path. */
  async sample(
    pid: number,
    { snapshotTo, timeoutMs = snapshotTo ? 60_000 : 5000 }: { snapshotTo?: string; timeoutMs?: number } = {},
  ): Promise<MemorySample> {
    const lines = () => readFileSync(this.#file, 'utf8').split('\n').filter(Boolean)
    const before = lines().length
    if (snapshotTo) writeFileSync(`${this.#file}.snapshot`, snapshotTo)
    process.kill(pid, 'SIGUSR2')
    const deadline = performance.now() + timeoutMs
    while (performance.now() < deadline) {
      const all = lines()
      if (all.length > before) {
        const m = JSON.parse(all.at(-1) as string) as { rss: number; heapUsed: number; external: number }
        const sample: MemorySample = {
          rssMiB: m.rss / 2 ** 20,
          heapMiB: m.heapUsed / 2 ** 20,
          externalMiB: m.external / 2 ** 20,
        }
        return sample
      }
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    throw new Error(`no memory sample from ${pid} within ${timeoutMs} ms`)
  }

  dispose(): void {
    rmSync(this.#dir, { recursive: true, force: true })
  }
}
