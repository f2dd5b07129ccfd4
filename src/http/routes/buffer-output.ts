import { z } from '@hono/zod-openapi'
import type { BufferItem } from '../../buffers/items.js'
import { DEFAULT_EVENT } from '../../buffers/limits.js'
import type { Page } from '../../buffers/store.js'
import { asJsonText, type JsonText } from '../openapi/json-text.js'
import { anyJson } from '../openapi/responses.js'

/** What buffer responses say: their schemas (the contract and the clients' types), and the hot path's JSON. */

const itemId = z.string().openapi({ pattern: '^[0-9]+-[0-9]+$', example: '1767268800000-0' })
const resetReason = z.enum(['trimmed', 'deleted', 'ahead']).openapi({
  description:
    '`trimmed`: items after the id were trimmed (retention); `deleted`: the buffer was deleted since; ' +
    '`ahead`: the id is newer than anything the buffer ever held.',
})

export const appended = z
  .object({ ids: z.array(itemId).openapi({ description: 'The stored items’ ids, in order.' }) })
  .openapi('Appended', { example: { ids: ['1767268800000-0'] } })

const item = z
  .object({
    id: itemId,
    event: z.string().openapi({ example: 'tick' }),
    data: anyJson,
    time: z.iso.datetime().openapi({ description: "When Redis stored it (Redis's clock)." }),
  })
  .openapi('Item')

export const itemPage = z
  .object({
    items: z.array(item),
    next: itemId.nullable().openapi({
      description:
        'Where the next page starts: send it as `after`. Null when there is nothing to resume from yet.',
    }),
    reset: z.literal(true).optional().openapi({
      description: 'Present when items after `after` are gone: the page starts at the oldest retained item.',
    }),
    reason: resetReason.optional(),
  })
  .openapi('ItemPage')

export type ItemPage = z.infer<typeof itemPage>

export const bufferInfo = z
  .object({
    name: z.string(),
    length: z.number().int().min(1),
    firstId: itemId,
    lastId: itemId,
    subscribers: z
      .number()
      .int()
      .min(0)
      .openapi({ description: 'SSE clients of this buffer on the replica that answers.' }),
  })
  .openapi('BufferInfo')

/** The stored JSON text goes out as it is, without a parse and a serialise per item. */
const itemJson = ({ id, event, data, time }: BufferItem) =>
  `{"id":"${id}","event":${JSON.stringify(event)},"data":${data},"time":"${new Date(time).toISOString()}"}`

/** A page's body; `next` is where the following page starts (the `after` to send), null for none yet. */
export function pageJson(page: Page, after: string | undefined): JsonText<ItemPage> {
  const next = page.items.at(-1)?.id ?? (page.reset ? null : (after ?? null))
  const reset = page.reset ? `,"reset":true,"reason":"${page.reset.reason}"` : ''
  return asJsonText(
    `{"items":[${page.items.map(itemJson).join(',')}],"next":${next ? `"${next}"` : 'null'}${reset}}`,
  )
}

/**
 * The event stream, block by block: each schema is one block's fields as an EventSource parses them
 * (`id`, `event`, `data`, `retry`, and a comment). `data` is JSON text; `contentSchema` says of what.
 */

const jsonData = (description: string, contentSchema?: string) => {
  // JSON Schema 2020-12's keywords for what a string holds, which the metadata's type (common to
  // OpenAPI 3.0 and 3.1) does not list.
  const content = {
    contentMediaType: 'application/json',
    ...(contentSchema !== undefined && { contentSchema: { $ref: `#/components/schemas/${contentSchema}` } }),
  }
  return z.string().openapi({ description, ...(content as object) })
}

export const resetData = z
  .object({
    reason: resetReason,
    oldestId: itemId
      .nullable()
      .openapi({ description: 'The oldest retained id, where the items that follow start.' }),
  })
  .openapi('ResetData')

const bufferName = z.string().openapi({ description: 'The buffer it concerns: one of `?buffer=`.' })

/** The data of an item on a stream of several buffers: where it comes from, around the item's data. */
export const setItemData = z
  .object({
    buffer: bufferName,
    id: itemId,
    data: anyJson.openapi({ description: "The item's data, as appended." }),
  })
  .openapi('SetItemData')

/** The data of a reset on a stream of several buffers: the buffer whose items after the cursor are gone. */
export const setResetData = z
  .object({ buffer: bufferName, reason: resetReason, oldestId: resetData.shape.oldestId })
  .openapi('SetResetData')

export const revokedData = z
  .object({ reason: z.enum(['session_ended', 'session_expired', 'grant_expired']) })
  .openapi('RevokedData')

/** What differs between the blocks of a one-buffer stream and those of a stream of several. */
interface StreamKind {
  /** Prefix of the blocks' component names. */
  component: '' | 'Set'
  /** An event id: an item id, or a cursor. */
  id: z.ZodString
  /** The opening block's `id`: where the stream starts. */
  openingId: string
  item: { data: z.ZodString; description: string }
  reset: { data: z.ZodString; description: string }
}

/** The blocks particular to a stream of `kind`: its opening, its items and its resets. */
function streamBlocks({ component, id, openingId, item, reset }: StreamKind) {
  const opening = z
    .strictObject({
      retry: z.number().int().openapi({ description: 'The reconnect delay in ms (SSE_RETRY_MS).' }),
      id: id.optional().openapi({
        description: `${openingId} Absent when the server asks the client to come back later (shutting down, or Redis unavailable).`,
      }),
    })
    .openapi(`${component}EventStreamOpening`, {
      description:
        'The first block of every stream; dispatches no event. A block with `retry` alone, and the end of ' +
        'the stream, tells the client to reconnect later (to another replica, or once Redis is back).',
    })
  const itemEvent = z
    .strictObject({
      id,
      event: z
        .string()
        .openapi({ description: `The item's event; \`${DEFAULT_EVENT}\` unless it named one.` }),
      data: item.data,
    })
    .openapi(`${component}EventStreamItem`, { description: item.description })
  const resetEvent = z
    .strictObject({ event: z.literal('reset'), data: reset.data })
    .openapi(`${component}EventStreamReset`, { description: reset.description })
  return [opening, itemEvent, resetEvent] as const
}

const revokedEvent = z
  .strictObject({ event: z.literal('revoked'), data: jsonData('Why the stream ends.', 'RevokedData') })
  .openapi('EventStreamRevoked', {
    description:
      'The last block of a stream whose session or grant ended (logout, rotation, revocation, expiry). ' +
      'The reconnect gets a 401 or 403 and EventSource stops; after a rotation it resumes.',
  })

const heartbeat = z.strictObject({ comment: z.literal('heartbeat') }).openapi('EventStreamHeartbeat', {
  description: 'A comment line (`: heartbeat`) after SSE_HEARTBEAT_MS of silence; dispatches nothing.',
})

/** The stream as the sequence of its blocks (OpenAPI 3.2 would say `itemSchema`). */
const eventStreamOf = (kind: StreamKind) =>
  z.array(z.union([...streamBlocks(kind), revokedEvent, heartbeat])).openapi({
    description: 'Not JSON: `text/event-stream`. Modelled as the sequence of its blocks, each one of these.',
  })

/** `GET /buffers/{name}/events`. */
export const eventStream = eventStreamOf({
  component: '',
  id: itemId,
  openingId:
    'Where the stream starts: the resume id, `0-0` for `from=earliest`, the newest id for live only.',
  item: {
    data: jsonData("The item's data, as appended."),
    description: 'An item: `onmessage`, or a listener for its event.',
  },
  reset: {
    data: jsonData('Why, and where the items that follow start.', 'ResetData'),
    description:
      'Items after the client’s Last-Event-ID are gone: the items that follow start at the oldest ' +
      'retained one. No `id`, so the last event id stays the last item received.',
  },
})

/** `GET /events`: a cursor for every id, an envelope around every item's data. */
export const setEventStream = eventStreamOf({
  component: 'Set',
  id: z.string().openapi({
    pattern: '^[A-Za-z0-9_-]+$',
    description:
      "The stream's cursor: every followed buffer's last item delivered (base64url; doc/architecture.md, " +
      '"Several buffers over one stream"). Send it back as `Last-Event-ID`.',
  }),
  openingId: 'Where the stream starts in every buffer: a cursor of the start positions.',
  item: {
    data: jsonData('The buffer, the item id and the item’s data.', 'SetItemData'),
    description:
      'An item of one of the buffers: `onmessage`, or a listener for its event. Its `id` is the cursor ' +
      'after it; its data names the buffer and the item id.',
  },
  reset: {
    data: jsonData('The buffer, why, and where its items that follow start.', 'SetResetData'),
    description:
      'Items of one buffer after the cursor are gone: its items that follow start at the oldest retained ' +
      'one. No `id`: the next item’s cursor names the restart.',
  },
})
