import { execFileSync } from 'node:child_process'
import fs, { closeSync, mkdtempSync, openSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { pino } from 'pino'
import { describe, expect, it, vi } from 'vitest'
import { createLogDestination } from '../../src/process/log-destination.js'

const BUILT = fileURLToPath(new URL('../../dist/process/log-destination.js', import.meta.url))

function tempFile() {
  const path = join(mkdtempSync(join(tmpdir(), 'log-destination-')), 'out.log')
  return { path, fd: openSync(path, 'w'), read: () => readFileSync(path, 'utf8') }
}

const nextTurn = () => new Promise((resolve) => setImmediate(resolve))

describe('createLogDestination', () => {
  it('writes the lines of one event-loop turn together, when the turn ends', async () => {
    const file = tempFile()
    const logger = pino({ base: undefined }, createLogDestination({ fd: file.fd }))
    for (const n of [1, 2, 3]) logger.info({ n }, 'line')
    expect(file.read()).toBe('')
    await nextTurn()
    const lines = file
      .read()
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line))
    expect(lines.map((line) => line.n)).toEqual([1, 2, 3])
    closeSync(file.fd)
  })

  it('uses one write(2) for all the lines of a turn', async () => {
    const file = tempFile()
    const logger = pino({ base: undefined }, createLogDestination({ fd: file.fd }))
    const writes = vi.spyOn(fs, 'writeSync')
    try {
      for (let n = 0; n < 50; n++) logger.info({ n }, 'line')
      await nextTurn()
      expect(writes.mock.calls.filter(([fd]) => fd === file.fd)).toHaveLength(1)
      expect(file.read().trim().split('\n')).toHaveLength(50)
    } finally {
      writes.mockRestore()
      closeSync(file.fd)
    }
  })

  it('writes at once when a turn has logged more than batchChars', () => {
    const file = tempFile()
    const logger = pino({ base: undefined }, createLogDestination({ fd: file.fd, batchChars: 100 }))
    logger.info({ padding: 'x'.repeat(120) }, 'big')
    expect(file.read()).toContain('"msg":"big"')
    closeSync(file.fd)
  })

  it('writes what is still waiting when the process exits in the same turn', () => {
    const file = tempFile()
    // The built module, in a process of its own that logs and exits before the turn ends; the file is
    // the child's fd 3.
    const script = `
      const { pino } = await import('pino')
      const { createLogDestination } = await import(${JSON.stringify(BUILT)})
      const logger = pino({ base: undefined }, createLogDestination({ fd: 3 }))
      logger.info('before exit')
      process.exit(3)
    `
    let status = 0
    try {
      execFileSync(process.execPath, ['--input-type=module', '-e', script], {
        stdio: ['ignore', 'ignore', 'inherit', file.fd],
      })
    } catch (error) {
      status = (error as { status: number }).status
    }
    expect(status).toBe(3)
    expect(file.read()).toContain('"msg":"before exit"')
    closeSync(file.fd)
  })
})
