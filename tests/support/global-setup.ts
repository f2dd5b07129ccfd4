import { execFileSync } from 'node:child_process'
import type { TestProject } from 'vitest/node'
import { TestRedisServer } from './redis-server.js'

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string
  }
}

/**
 * Builds dist/ (process tests spawn what ships: `node dist/main.js`), then starts one shared real Redis
 * for every test file; tests that stop or freeze Redis start their own.
 */
export default async function setup(project: TestProject) {
  execFileSync('npm', ['run', '--silent', 'build'], { stdio: 'inherit' })
  const server = await TestRedisServer.start()
  project.provide('redisUrl', await server.url())
  return async () => {
    await server.stop()
  }
}
