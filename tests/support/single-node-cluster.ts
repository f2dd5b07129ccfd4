import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { createClient } from 'redis'
import { TestRedisServer } from './redis-server.js'

/**
 * One `redis-server` in cluster mode that owns all 16,384 slots: a cluster of one node. A plain client
 * talks to it as to any Redis (no slot is elsewhere, so there is never a MOVED), while Redis enforces
 * what a cluster does: a command or script whose declared keys are in different slots fails with
 * CROSSSLOT. For a cluster of several masters, see the other harness in tests/support.
 */
export interface SingleNodeCluster {
  url: string
  stop(): Promise<void>
}

/** How long the node may take to call its cluster state ok once it owns every slot. */
const STATE_OK_WITHIN_MS = 10_000

export async function startSingleNodeCluster(): Promise<SingleNodeCluster> {
  const dir = await mkdtemp(join(tmpdir(), 'hrs-cluster-'))
  const server = await TestRedisServer.start([
    '--cluster-enabled',
    'yes',
    '--cluster-config-file',
    join(dir, 'nodes.conf'),
  ])
  const url = await server.url()
  const stop = async () => {
    await server.stop()
    await rm(dir, { recursive: true, force: true })
  }
  const admin = createClient({ url })
  admin.on('error', () => {})
  try {
    await admin.connect()
    await admin.sendCommand(['CLUSTER', 'ADDSLOTSRANGE', '0', '16383'])
    const until = Date.now() + STATE_OK_WITHIN_MS
    while (!String(await admin.sendCommand(['CLUSTER', 'INFO'])).includes('cluster_state:ok')) {
      if (Date.now() > until) throw new Error(`cluster state not ok within ${STATE_OK_WITHIN_MS} ms`)
      await sleep(50)
    }
  } catch (error) {
    await stop()
    throw error
  } finally {
    admin.destroy()
  }
  return { url, stop }
}
