/**
 * Item ids are Redis stream ids, `<ms>-<seq>`: both parts unsigned 64-bit decimals. Ids from clients
 * (Last-Event-ID, `after`) are parsed into canonical form (no leading zeros), so comparing them as
 * strings (by length, then digits) is exact, here and in buffer-read.lua, for every valid id.
 */
const STREAM_ID = /^(\d{1,20})-(\d{1,20})$/
const UINT64_MAX = 18_446_744_073_709_551_615n

/** The canonical id, or null when `raw` is not a valid stream id. */
export function parseItemId(raw: string): string | null {
  const match = STREAM_ID.exec(raw)
  if (!match) return null
  const ms = BigInt(match[1] as string)
  const seq = BigInt(match[2] as string)
  if (ms > UINT64_MAX || seq > UINT64_MAX) return null
  return `${ms}-${seq}`
}

const compareDecimals = (a: string, b: string): number =>
  a.length !== b.length ? a.length - b.length : a < b ? -1 : a > b ? 1 : 0

/** Negative, zero or positive as canonical id `a` sorts before, with, or after `b`. */
export function compareItemIds(a: string, b: string): number {
  if (a === b) return 0
  const aDash = a.indexOf('-')
  const bDash = b.indexOf('-')
  return (
    compareDecimals(a.slice(0, aDash), b.slice(0, bDash)) ||
    compareDecimals(a.slice(aDash + 1), b.slice(bDash + 1))
  )
}

/** Sorts before every id Redis issues: "everything". */
export const BEFORE_ALL = '0-0'
