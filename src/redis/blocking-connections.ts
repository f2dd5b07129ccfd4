import type { NodeRedisClient } from './standalone.js'
import type { BlockingConnection, BlockingConnections } from './stream-reader.js'

/**
 * Blocking connections that are duplicates of a node's command client (same address, credentials and
 * TLS): for a standalone Redis, `nodeFor` always gives its one client; for a cluster, the client of the
 * master serving the key. A block is ended (CLIENT UNBLOCK) from that command client, on the same node.
 */
export function duplicatedConnections({
  routeOf,
  nodeFor,
}: {
  routeOf: (key: string) => Promise<string>
  nodeFor: (key: string) => Promise<NodeRedisClient>
}): BlockingConnections {
  return { routeOf, open: (key) => duplicateConnection(() => nodeFor(key)) }
}

function duplicateConnection(nodeFor: () => Promise<NodeRedisClient>): BlockingConnection {
  let node: NodeRedisClient | undefined
  let connection: NodeRedisClient | undefined
  let destroyed = false
  const readyListeners: (() => void)[] = []
  const open = (): NodeRedisClient => {
    if (!connection) throw new Error('the blocking connection is not open')
    return connection
  }
  return {
    get isReady() {
      return connection?.isReady ?? false
    },
    onReady(listener) {
      readyListeners.push(listener)
      connection?.on('ready', listener)
    },
    async connect() {
      const resolved = await nodeFor()
      if (destroyed) return
      node = resolved
      const opened = resolved.duplicate()
      // Failures surface through reads; node-redis reconnects on its own (capped backoff).
      opened.on('error', () => {})
      for (const listener of readyListeners) opened.on('ready', listener)
      connection = opened
      await opened.connect()
    },
    destroy() {
      destroyed = true
      connection?.destroy() // idempotent
    },
    clientId: () => open().clientId(),
    send: (command) => open().sendCommand([...command]),
    unblock: (id) => (node ? node.clientUnblock(id) : Promise.resolve(0)),
  }
}
