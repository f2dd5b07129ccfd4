import { z } from 'zod'

/**
 * What a grant token lets its holder do with buffers: the `buffers` claim, `{ read?: [...], write?: [...] }`.
 * Each entry is a buffer name, a prefix ending in `*` (`orders.*`), or `*` alone for every buffer.
 * Read covers paging, stats and live streams; write covers append and delete.
 */
export interface Grant {
  readonly read: readonly string[]
  readonly write: readonly string[]
}

export type Access = keyof Grant

/** A grant that allows nothing: an anonymous session's, or a session's after its grant expired. */
export const NO_GRANT: Grant = Object.freeze({ read: [], write: [] })

/** A buffer name (see buffers/limits.ts), a prefix of one followed by `*`, or `*` alone. */
const SELECTOR = /^(\*|[A-Za-z0-9][A-Za-z0-9._:-]{0,127}\*?)$/

const selectors = z
  .array(z.string().regex(SELECTOR, { error: 'must be a buffer name, a prefix ending in *, or *' }))
  .max(256)

/** The `buffers` claim of a grant token. */
export const grantClaim = z.strictObject({
  read: selectors.default([]),
  write: selectors.default([]),
})

/** Whether `grant` allows `access` to buffer `name`. */
export function allows(grant: Grant, access: Access, name: string): boolean {
  for (const selector of grant[access]) {
    if (selector === name || selector === '*') return true
    if (selector.endsWith('*') && name.startsWith(selector.slice(0, -1))) return true
  }
  return false
}
