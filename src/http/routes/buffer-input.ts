import type { Context } from 'hono'
import { createMiddleware } from 'hono/factory'
import { z } from 'zod'
import { parseItemId } from '../../buffers/ids.js'
import {
  BATCH_MAX_ITEMS,
  BUFFER_NAME,
  DEFAULT_EVENT,
  EVENT_NAME,
  ITEM_MAX_BYTES,
  PAGE_DEFAULT,
  PAGE_MAX,
} from '../../buffers/limits.js'
import { BufferSet } from '../../buffers/live/buffer-set.js'
import type { NewItem, ReadFrom } from '../../buffers/store.js'
import { ServiceError } from '../../lib/errors.js'

/** What a buffer request may say, checked before any Redis work: every mistake is a 4xx naming it. */

const event = z.string().regex(EVENT_NAME, { error: `must match ${EVENT_NAME.source}` })

/** One item `{event?, data}` or a batch `{items: [...]}`; `data` is any JSON, null included. */
// `data` is optional to zod only so that the check below can say "is required" (zod 4 says "expected nonoptional").
const itemSchema = z.strictObject({ event: event.optional(), data: z.unknown().optional() }).check((ctx) => {
  if (ctx.value.data === undefined) {
    ctx.issues.push({ code: 'custom', path: ['data'], message: 'is required', input: ctx.value })
  }
})
const batchSchema = z.strictObject({
  items: z
    .array(itemSchema)
    .min(1, { error: 'must hold at least one item' })
    .max(BATCH_MAX_ITEMS, { error: `must hold at most ${BATCH_MAX_ITEMS} items` }),
})

/**
 * The body of an append: a batch when it has `items`, one item otherwise. Chosen up front rather than
 * with z.union, whose only complaint when neither fits is "Invalid input": this way the error names
 * the field.
 */
export const appendBody = z
  .unknown()
  .transform((body, ctx): z.output<typeof batchSchema> | z.output<typeof itemSchema> => {
    const isBatch = typeof body === 'object' && body !== null && !Array.isArray(body) && 'items' in body
    const parsed = (isBatch ? batchSchema : itemSchema).safeParse(body)
    if (parsed.success) return parsed.data
    for (const { path, message } of parsed.error.issues)
      ctx.addIssue({ code: 'custom', path, message, input: body })
    return z.NEVER
  })

/** The items of a valid append body, each data as JSON text within ITEM_MAX_BYTES. */
export function toNewItems(body: z.infer<typeof appendBody>): NewItem[] {
  const items = 'items' in body ? body.items : [body]
  return items.map((item, index) => {
    const data = JSON.stringify(item.data)
    const bytes = Buffer.byteLength(data)
    if (bytes > ITEM_MAX_BYTES) {
      const which = 'items' in body ? `items.${index}` : 'The item'
      throw new ServiceError(
        'too_large',
        'item_too_large',
        `${which}: data is ${bytes} bytes of JSON; the limit is ${ITEM_MAX_BYTES}`,
      )
    }
    return { event: item.event ?? DEFAULT_EVENT, data }
  })
}

const invalidName = () =>
  new ServiceError('invalid', 'invalid_buffer_name', `A buffer name must match ${BUFFER_NAME.source}`)

/** Refuses a `:name` that is not a buffer name, before anything else looks at it. */
export const validName = createMiddleware(async (c, next) => {
  if (!BUFFER_NAME.test(c.req.param('name') ?? '')) throw invalidName()
  await next()
})

/** `raw` as a canonical item id; `what` names the parameter in the error. */
export function itemId(raw: string, what: string): string {
  const id = parseItemId(raw)
  if (id === null) {
    throw new ServiceError('invalid', 'invalid_id', `${what} must be an item id such as 1700000000000-0`)
  }
  return id
}

/** `?limit=`: PAGE_DEFAULT when absent. */
export function pageLimit(raw: string | undefined): number {
  if (raw === undefined) return PAGE_DEFAULT
  const limit = /^\d{1,4}$/.test(raw) ? Number(raw) : Number.NaN
  if (!(limit >= 1 && limit <= PAGE_MAX)) {
    throw new ServiceError('invalid', 'invalid_limit', `limit must be a whole number from 1 to ${PAGE_MAX}`)
  }
  return limit
}

/** Where a stream starts: Last-Event-ID, else ?lastEventId=, else ?from=earliest, else live only. */
export function streamStart(c: Context): ReadFrom {
  const resumeId = lastEventId(c)
  return resumeId ? { after: itemId(resumeId, 'Last-Event-ID') } : startWithoutId(c)
}

/**
 * `?buffer=` (repeated): the buffers one stream follows, 1 to `max` (SSE_MAX_BUFFERS_PER_STREAM), each
 * a buffer name. A name given twice counts once: it is a set.
 */
export function bufferSet(c: Context, max: number): BufferSet {
  const names = new Set(c.req.queries('buffer') ?? [])
  if (names.size === 0 || names.size > max) {
    throw new ServiceError(
      'invalid',
      'invalid_buffer_set',
      `Name 1 to ${max} buffers to follow: ?buffer=NAME, repeated (${names.size} given)`,
    )
  }
  for (const name of names) if (!BUFFER_NAME.test(name)) throw invalidName()
  return new BufferSet(names)
}

/**
 * Where a stream of `set` starts in each of its buffers: the positions its cursor names (Last-Event-ID,
 * else ?lastEventId=), else ?from=earliest, else live only.
 */
export function setStreamStarts(c: Context, set: BufferSet): ReadFrom[] {
  const cursor = lastEventId(c)
  if (!cursor) return set.names.map(() => startWithoutId(c))
  const positions = set.decode(cursor)
  if (!positions) {
    throw new ServiceError(
      'invalid',
      'invalid_cursor',
      'Last-Event-ID is not a cursor of a stream of these buffers (another set of buffers, or damaged)',
    )
  }
  return positions.map((after) => ({ after }))
}

const lastEventId = (c: Context) => c.req.header('Last-Event-ID') || c.req.query('lastEventId')

function startWithoutId(c: Context): 'oldest' | 'newest' {
  const from = c.req.query('from')
  if (from === undefined) return 'newest'
  if (from === 'earliest') return 'oldest'
  throw new ServiceError('invalid', 'invalid_from', 'from must be "earliest" (or absent for live only)')
}
