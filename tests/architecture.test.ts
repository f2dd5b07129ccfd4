import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

/** The module map of doc/architecture.md, enforced: which concern may import which. */

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../src')

type Concern =
  | 'main'
  | 'app'
  | 'env'
  | 'lib'
  | 'process'
  | 'redis'
  | 'sse'
  | 'access'
  | 'limits'
  | 'sessions'
  | 'buffers'
  | 'live'
  | 'http'

const MAY_IMPORT: Record<Concern, readonly Concern[]> = {
  main: ['app', 'env', 'lib', 'process', 'redis', 'http'],
  app: ['env', 'lib', 'process', 'redis', 'sse', 'access', 'limits', 'sessions', 'buffers', 'live', 'http'],
  env: [],
  lib: [],
  process: ['lib', 'env'],
  redis: ['lib', 'env'],
  sse: ['lib'],
  access: ['lib', 'env'],
  limits: ['lib', 'redis'],
  sessions: ['lib', 'redis', 'access'],
  buffers: ['lib', 'redis'],
  live: ['buffers', 'lib', 'redis', 'sse', 'process', 'limits'],
  http: ['lib', 'process', 'redis', 'sse', 'access', 'limits', 'sessions', 'buffers', 'live'],
}

function concernOf(path: string): Concern {
  const [top, next] = relative(SRC, path).split('/')
  if (top === 'main.ts') return 'main'
  if (top === 'app.ts') return 'app'
  if (top === 'env.ts') return 'env'
  if (top === 'buffers' && next === 'live') return 'live'
  if (top && top in MAY_IMPORT) return top as Concern
  throw new Error(`${relative(SRC, path)} belongs to no concern of the module map`)
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) return entry.name === 'types' ? [] : sourceFiles(path)
    return entry.name.endsWith('.ts') ? [path] : []
  })
}

/** Our own modules a file imports, static or dynamic (type-only imports count: they are dependencies too). */
function localImports(file: string): string[] {
  const text = readFileSync(file, 'utf8')
  return [...text.matchAll(/(?:from |import\()'(\.{1,2}\/[^']+)'/g)].map(([, spec]) =>
    resolve(dirname(file), (spec as string).replace(/\.js$/, '.ts')),
  )
}

describe('module map', () => {
  it('keeps only the entry files at the top of src/', () => {
    const top = readdirSync(SRC, { withFileTypes: true }).filter((entry) => entry.isFile())
    expect(top.map((entry) => entry.name).sort()).toEqual(['app.ts', 'env.ts', 'main.ts'])
  })

  it('imports only along the allowed directions', () => {
    const violations = sourceFiles(SRC).flatMap((file) => {
      const from = concernOf(file)
      return localImports(file)
        .filter((target) => {
          const to = concernOf(target)
          return to !== from && !MAY_IMPORT[from].includes(to)
        })
        .map((target) => `${relative(SRC, file)} -> ${relative(SRC, target)}`)
    })
    expect(violations).toEqual([])
  })
})
