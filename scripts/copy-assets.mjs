// tsc compiles only .ts: copy the non-TypeScript files the service reads at runtime (Lua scripts, the
// static page) from src/ to dist/, keeping their relative paths.
import { cpSync } from 'node:fs'

const ASSET = /\.(lua|html|css|js)$/

cpSync('src', 'dist', {
  recursive: true,
  filter: (source) => !source.endsWith('.ts') && (ASSET.test(source) || !source.includes('.')),
})
