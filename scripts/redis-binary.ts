import { accessSync, constants } from 'node:fs'
import { delimiter, join } from 'node:path'

const INSTALL_HINT =
  'install it (Debian/Ubuntu: apt-get install -y redis-server; macOS: brew install redis) or set REDISMS_SYSTEM_BINARY to its path'

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK)
    return true
  } catch {
    return false
  }
}

/**
 * The `redis-server` that redis-memory-server runs, for the tests and `npm run local`: REDISMS_SYSTEM_BINARY
 * when set, else the first `redis-server` on PATH. redis-memory-server would silently try to download and
 * compile Redis when its binary is missing, so a missing one is an error here, with how to install it.
 */
export function systemRedisBinary(env: NodeJS.ProcessEnv = process.env): string {
  const configured = env.REDISMS_SYSTEM_BINARY
  if (configured) {
    if (isExecutable(configured)) return configured
    throw new Error(`REDISMS_SYSTEM_BINARY=${configured} is not an executable redis-server: ${INSTALL_HINT}`)
  }
  const found = (env.PATH ?? '')
    .split(delimiter)
    .filter((dir) => dir !== '')
    .map((dir) => join(dir, 'redis-server'))
    .find(isExecutable)
  if (found) return found
  throw new Error(`redis-server is not on PATH: ${INSTALL_HINT}`)
}
