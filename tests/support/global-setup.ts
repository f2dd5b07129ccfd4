import { execFileSync } from 'node:child_process'
import type { TestProject } from 'vitest/node'
import { TestRedisServer } from './redis-server.js'

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string
  }
}

/**
 * tsc emits even when types are wrong; type errors are `npm run typecheck`'s job (CI runs it first), so
 * a stale type error elsewhere does not stop the process tests from running what the source says.
 */
function buildDist() {
  try {
    execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { stdio: 'ignore' })
  } catch {
    process.stderr.write(
      'global setup: tsc reported type errors (run `npm run typecheck`); dist/ was still emitted\n',
    )
  }
  execFileSync('node', ['scripts/copy-assets.mjs'], { stdio: 'inherit' })
}

/**
 * Builds dist/ (process tests spawn what ships: `node dist/main.js`), then starts one shared real Redis
 * for every test file; tests that stop or freeze Redis start their own.
 */
export default async function setup(project: TestProject) {
  buildDist()
  const server = await TestRedisServer.start()
  project.provide('redisUrl', await server.url())
  return async () => {
    await server.stop()
  }
}
