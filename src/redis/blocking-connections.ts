import type { NodeRedisClient } from './standalone.js'
import type { BlockingConnection, BlockingConnections } from './stream-reader.js'

/**
 * Blocking connections to a standalone Redis: duplicates of its command client (same address,
 * credentials and TLS). A block is ended (CLIENT UNBLOCK) from that command client.
 */
export function duplicatedConnections(node: NodeRedisClient): BlockingConnections {
  return { open: () => duplicateConnection(node) }
}

function duplicateConnection(node: NodeRedisClient): BlockingConnection {
  let connection: NodeRedisClient | undefined
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
      const opened = node.duplicate()
      // Failures surface through reads; node-redis reconnects on its own (capped backoff).
      opened.on('error', () => {})
      for (const listener of readyListeners) opened.on('ready', listener)
      connection = opened
      await opened.connect()
    },
    destroy: () => connection?.destroy(), // idempotent
    clientId: () => open().clientId(),
    send: (command) => open().sendCommand([...command]),
    unblock: (id) => node.clientUnblock(id),
  }
}
