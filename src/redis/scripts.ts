import { readFileSync } from 'node:fs'

/**
 * Reads a Lua script shipped beside this module (src/redis/scripts/NAME.lua, copied to dist/ on build).
 * Called while an app is built, never at import, so importing the app does no I/O.
 */
export function readLuaScript(name: string): string {
  return readFileSync(new URL(`./scripts/${name}.lua`, import.meta.url), 'utf8')
}
