import { readFileSync } from 'node:fs'

/** A line `--- @include "NAME"` is replaced by scripts/includes/NAME.lua (as BullMQ's scripts do). */
const INCLUDE = /^--- @include "([\w-]+)"$/gm

const read = (path: string) => readFileSync(new URL(`./scripts/${path}.lua`, import.meta.url), 'utf8')

/**
 * Reads a Lua script shipped beside this module (src/redis/scripts/NAME.lua, copied to dist/ on build),
 * with its includes. Called while an app is built, never at import, so importing the app does no I/O.
 */
export function readLuaScript(name: string): string {
  return read(name).replace(INCLUDE, (_, include: string) => read(`includes/${include}`))
}
