import { z } from '@hono/zod-openapi'
import { parseItemId } from '../../buffers/ids.js'
import {
  BATCH_MAX_ITEMS,
  BUFFER_NAME,
  DEFAULT_EVENT,
  EVENT_NAME,
  ITEM_MAX_BYTES,
  PAGE_DEFAULT,
  PAGE_MAX,
  RESERVED_EVENT_NAMES,
} from '../../buffers/limits.js'
import { BufferSet } from '../../buffers/live/buffer-set.js'
import type { NewItem } from '../../buffers/store.js'
import { ServiceError } from '../../lib/errors.js'
import { failWith } from '../middleware/validation.js'
import { anyJson } from '../openapi/responses.js'

/**
 * What a buffer request may say, checked before any Redis work: every mistake is a 4xx naming it. The
 * schemas validate requests (through @hono/zod-openapi, see validation.ts) and document them.
 */

const event = z
  .string()
  .regex(EVENT_NAME, { error: `must match ${EVENT_NAME.source}` })
  .refine((name) => !RESERVED_EVENT_NAMES.includes(name), {
    error: `must not be ${RESERVED_EVENT_NAMES.join(', ')}: a stream's own events and EventSource's`,
  })
  .openapi({
    description: `The SSE event type; \`${DEFAULT_EVENT}\` when absent. Not ${RESERVED_EVENT_NAMES.map((name) => `\`${name}\``).join(', ')}: the stream's own events and EventSource's.`,
    example: 'tick',
  })

const itemSchema = z
  .strictObject({
    event: event.optional(),
    data: anyJson.openapi({ description: `Any JSON value, at most ${ITEM_MAX_BYTES} bytes as JSON text.` }),
  })
  .openapi('NewItem', { example: { event: 'tick', data: { sym: 'ACME', px: 12.5 } } })
const batchSchema = z
  .strictObject({
    items: z
      .array(itemSchema)
      .min(1, { error: 'must hold at least one item' })
      .max(BATCH_MAX_ITEMS, { error: `must hold at most ${BATCH_MAX_ITEMS} items` }),
  })
  .openapi('NewItems', { description: 'A batch: stored all or nothing.' })

const appendShape = z.union([batchSchema, itemSchema]).openapi({
  description: `One item, or a batch of 1 to ${BATCH_MAX_ITEMS} items.`,
})

/**
 * The body of an append: a batch when it has `items`, one item otherwise. The branch is chosen up
 * front, before the union checks the body, because a union's only complaint when neither fits is
 * "Invalid input": this way the error names the field.
 */
export const appendBody = z.preprocess<unknown, typeof appendShape, z.input<typeof appendShape>>(
  (body, ctx) => {
    const isBatch = typeof body === 'object' && body !== null && !Array.isArray(body) && 'items' in body
    const parsed = (isBatch ? batchSchema : itemSchema).safeParse(body)
    if (!parsed.success) {
      for (const { path, message } of parsed.error.issues) ctx.addIssue({ code: 'custom', path, message })
    }
    return body
  },
  appendShape,
)

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

const bufferName = z
  .string()
  .refine((name) => BUFFER_NAME.test(name), {
    error: `A buffer name must match ${BUFFER_NAME.source}`,
    params: { code: 'invalid_buffer_name' },
  })
  .openapi({ pattern: BUFFER_NAME.source, example: 'orders.table' })

/** `:name` of every buffer route. */
export const bufferParams = z.object({ name: bufferName })

/** An item id from a client, in canonical form; `what` names it in the error. Empty is absent. */
const itemId = (what: string) =>
  z
    .string()
    .optional()
    .transform((raw, ctx) =>
      raw === undefined || raw === ''
        ? undefined
        : (parseItemId(raw) ??
          failWith(ctx, 'invalid_id', `${what} must be an item id such as 1700000000000-0`)),
    )
    .openapi({ pattern: '^[0-9]{1,20}-[0-9]{1,20}$', example: '1767268800000-0' })

/** `GET /buffers/:name/items?after=&limit=`. */
export const pageQuery = z.object({
  after: itemId('after').openapi({
    description: 'Start after this item id: the `next` of the page before. Absent: the oldest retained item.',
  }),
  limit: z
    .string()
    .optional()
    .transform((raw, ctx) => {
      if (raw === undefined) return PAGE_DEFAULT
      const limit = /^\d{1,4}$/.test(raw) ? Number(raw) : Number.NaN
      return limit >= 1 && limit <= PAGE_MAX
        ? limit
        : failWith(ctx, 'invalid_limit', `limit must be a whole number from 1 to ${PAGE_MAX}`)
    })
    .openapi({ type: 'integer', minimum: 1, maximum: PAGE_MAX, default: PAGE_DEFAULT, example: 2 }),
})

/** `?from=`: where a stream without a resume id starts. */
const streamFrom = z
  .string()
  .optional()
  .refine((from) => from === undefined || from === 'earliest', {
    error: 'from must be "earliest" (or absent for live only)',
    params: { code: 'invalid_from' },
  })

/** `GET /buffers/:name/events`: where the stream starts. */
export const streamQuery = z.object({
  from: streamFrom.openapi({
    enum: ['earliest'],
    description: '`earliest`: replay what the buffer retains first. Absent: live only.',
    example: 'earliest',
  }),
  lastEventId: itemId('Last-Event-ID').openapi({
    description: 'Resume after this id, as the `Last-Event-ID` header does (which takes precedence).',
  }),
})

export const streamHeaders = z.object({
  'Last-Event-ID': itemId('Last-Event-ID').openapi({
    description:
      'Resume after this id: EventSource sends the last `id:` it received when it reconnects. ' +
      'Every later item follows exactly once, in order, or a `reset` event first when that cannot be.',
  }),
})

/** The buffers of the examples of `GET /events`, and a cursor of them (both at 1767268800000-0). */
const EXAMPLE_SET = new BufferSet(['orders.table', 'prices'])
const EXAMPLE_CURSOR = EXAMPLE_SET.cursor(['1767268800000-0', '1767268800000-0']).text()

/**
 * `?buffer=` (repeated): the buffers one stream follows, 1 to `max` (SSE_MAX_BUFFERS_PER_STREAM), each
 * a buffer name. A name given twice counts once: it is a set.
 */
const bufferSetParam = (max: number) =>
  z
    .union([z.string(), z.array(z.string())])
    .optional()
    .transform((raw, ctx) => {
      // The query validator hands over a name given once as a string, repeated ones as an array.
      const names = new Set(raw === undefined ? [] : [raw].flat())
      if (names.size === 0 || names.size > max) {
        return failWith(
          ctx,
          'invalid_buffer_set',
          `Name 1 to ${max} buffers to follow: ?buffer=NAME, repeated (${names.size} given)`,
        )
      }
      for (const name of names) {
        if (!BUFFER_NAME.test(name)) {
          return failWith(ctx, 'invalid_buffer_name', `A buffer name must match ${BUFFER_NAME.source}`)
        }
      }
      return new BufferSet(names)
    })
    .openapi({
      type: 'array',
      items: { type: 'string', pattern: BUFFER_NAME.source },
      minItems: 1,
      maxItems: max,
      description: `A buffer to follow, repeated for each (\`?buffer=a&buffer=b\`): 1 to ${max} (SSE_MAX_BUFFERS_PER_STREAM). A name given twice counts once.`,
      example: [...EXAMPLE_SET.names],
    })

const CURSOR_FORM = /^[A-Za-z0-9_-]+$/

/**
 * A cursor from a client: its form only (base64url). Whether it is a cursor of the stream's buffers is
 * for {@link BufferSet.decode}, once the set is known. Empty is absent.
 */
const setCursor = z
  .string()
  .optional()
  .transform((raw, ctx) =>
    raw === undefined || raw === ''
      ? undefined
      : CURSOR_FORM.test(raw)
        ? raw
        : failWith(ctx, 'invalid_cursor', 'Last-Event-ID must be an id this stream sent (base64url)'),
  )
  .openapi({ pattern: CURSOR_FORM.source, example: EXAMPLE_CURSOR })

const SET_CURSOR_DESCRIPTION =
  "an `id:` this stream sent for the same buffers (a cursor: every buffer's last item delivered)"

/** `GET /events`: the buffers a stream follows and where it starts. */
export const setStreamQuery = (maxBuffers: number) =>
  z.object({
    buffer: bufferSetParam(maxBuffers),
    from: streamFrom.openapi({
      enum: ['earliest'],
      description: '`earliest`: replay what each buffer retains first. Absent: live only.',
      example: 'earliest',
    }),
    lastEventId: setCursor.openapi({
      description: `Resume after ${SET_CURSOR_DESCRIPTION}, as the \`Last-Event-ID\` header does (which takes precedence).`,
    }),
  })

export const setStreamHeaders = z.object({
  'Last-Event-ID': setCursor.openapi({
    description:
      `Resume after ${SET_CURSOR_DESCRIPTION}: EventSource sends the last \`id:\` it received when it ` +
      'reconnects. Every later item of each buffer follows exactly once, in order, or a `reset` event ' +
      'for that buffer first when that cannot be. A cursor of another set of buffers, or a damaged one, ' +
      'is a 400 `invalid_cursor`.',
  }),
})
