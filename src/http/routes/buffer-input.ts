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
} from '../../buffers/limits.js'
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
  .openapi({ description: `The SSE event type; \`${DEFAULT_EVENT}\` when absent.`, example: 'tick' })

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

/** `GET /buffers/:name/events`: where the stream starts. */
export const streamQuery = z.object({
  from: z
    .string()
    .optional()
    .refine((from) => from === undefined || from === 'earliest', {
      error: 'from must be "earliest" (or absent for live only)',
      params: { code: 'invalid_from' },
    })
    .openapi({
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
