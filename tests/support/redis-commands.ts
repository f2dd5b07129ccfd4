import type { NodeRedisClient } from '../../src/redis/connection.js'

/**
 * Calls per command name that Redis counted while `action` ran (INFO itself left out). Meaningful on a
 * Redis of the test's own (TestRedisServer): on the shared one, other files' commands would count too.
 */
export async function commandsDuring(
  client: NodeRedisClient,
  action: () => Promise<unknown>,
): Promise<Record<string, number>> {
  const stats = async () =>
    new Map(
      [...(await client.info('commandstats')).matchAll(/cmdstat_([^:]+):calls=(\d+)/g)].map(
        ([, name, calls]) => [name as string, Number(calls)],
      ),
    )
  const before = await stats()
  await action()
  const after = await stats()
  const delta: Record<string, number> = {}
  for (const [name, calls] of after) {
    const added = calls - (before.get(name) ?? 0)
    if (added > 0 && name !== 'info') delta[name] = added
  }
  return delta
}
