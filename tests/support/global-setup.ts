import { execFile, spawn } from 'node:child_process'
import { once } from 'node:events'
import { promisify } from 'node:util'
import type { TestProject } from 'vitest/node'
import { TestRedisCluster } from './redis-cluster.js'
import { TestRedisServer } from './redis-server.js'

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string
    /** A seed of the Redis Cluster every file shares (see tests/support/topology.ts). */
    clusterUrl: string
  }
}

/**
 * tsc emits even when types are wrong; type errors are `npm run typecheck`'s job (CI runs it first), so
 * a stale type error elsewhere does not stop the process tests from running what the source says.
 * Asynchronous, so that the Redis servers start meanwhile.
 */
async function buildDist() {
  try {
    await promisify(execFile)('npx', ['tsc', '-p', 'tsconfig.build.json'])
  } catch {
    process.stderr.write(
      'global setup: tsc reported type errors (run `npm run typecheck`); dist/ was still emitted\n',
    )
  }
  const copy = spawn('node', ['scripts/copy-assets.mjs'], { stdio: 'inherit' })
  const [code] = await once(copy, 'exit')
  if (code !== 0) throw new Error(`scripts/copy-assets.mjs exited with ${code}`)
}

/**
 * Builds dist/ (process tests spawn what ships: `node dist/main.js`) while it starts one shared real
 * Redis and one shared three-master Redis Cluster for every test file (a new cluster master waits 2 s
 * before it serves: the build hides that). Tests that stop or freeze Redis start their own.
 */
export default async function setup(project: TestProject) {
  const [built, server, cluster] = await Promise.allSettled([
    buildDist(),
    TestRedisServer.start(),
    // Redis's default node timeout, not the 1 s of a file's own cluster: no test kills these nodes, and a
    // node starved of CPU for a second on a busy CI machine must not count as failed.
    TestRedisCluster.start({ nodeTimeoutMs: 15_000 }),
  ])
  const stop = () =>
    Promise.all([server, cluster].map((started) => started.status === 'fulfilled' && started.value.stop()))
  if (built.status === 'rejected' || server.status === 'rejected' || cluster.status === 'rejected') {
    await stop()
    throw [built, server, cluster].find((result) => result.status === 'rejected')?.reason
  }
  project.provide('redisUrl', await server.value.url())
  project.provide('clusterUrl', cluster.value.url)
  return async () => {
    await stop()
  }
}
