import { type Context, Hono } from 'hono'
import { createMiddleware } from 'hono/factory'
import { z } from 'zod'
import { BEFORE_ALL, parseItemId } from '../buffers/ids.js'
import type { BufferItem } from '../buffers/items.js'
import { BUFFER_NAME, DEFAULT_EVENT, EVENT_NAME } from '../buffers/names.js'
import {
  type BufferScriptSources,
  BufferStore,
  type NewItem,
  type Page,
  type ReadFrom,
} from '../buffers/store.js'
import { AppError, RedisUnavailableError } from '../errors.js'
import type { Logger } from '../logger.js'
import { apiToken, tokenOrSession } from '../middleware/api-token.js'
import { jsonBody } from '../middleware/json-body.js'
import type { RedisVariables } from '../middleware/redis.js'
import type { SessionVariables } from '../middleware/session.js'
import { CATCH_UP_PAGE, Follower } from '../sse/follower.js'
import { openingFrame, retryFrame } from '../sse/frames.js'
import { Heartbeats } from '../sse/heartbeats.js'
import type { LiveHub, Membership } from '../sse/hub.js'
import { Outbox } from '../sse/outbox.js'
import { EVENT_STREAM_HEADERS, openEventStream } from '../sse/response.js'

export interface BufferRouteOptions {
  hub: LiveHub
  logger: Logger
  apiTokens: readonly string[]
  scripts: BufferScriptSources
  /** BUFFER_MAX_LEN. */
  maxLen: number
  sse: {
    retryMs: number
    heartbeatMs: number
    queueMaxEvents: number
    queueMaxBytes: number
  }
}

/** The largest item: its data as JSON text, in UTF-8 bytes. */
const ITEM_MAX_BYTES = 64 * 1024
const BATCH_MAX_ITEMS = 1000
const PAGE_DEFAULT = 100
const PAGE_MAX = 1000
/** On shutdown, how long a stream may take to flush what is queued before it is cut. */
const END_GRACE_MS = 2000

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
 * A batch when the body has `items`, one item otherwise. Chosen up front rather than with z.union,
 * whose only complaint when neither fits is "Invalid input": this way the error names the field.
 */
const appendBody = z
  .unknown()
  .transform((body, ctx): z.output<typeof batchSchema> | z.output<typeof itemSchema> => {
    const isBatch = typeof body === 'object' && body !== null && !Array.isArray(body) && 'items' in body
    const parsed = (isBatch ? batchSchema : itemSchema).safeParse(body)
    if (parsed.success) return parsed.data
    for (const { path, message } of parsed.error.issues)
      ctx.addIssue({ code: 'custom', path, message, input: body })
    return z.NEVER
  })

type Variables = RedisVariables & SessionVariables

const validName = createMiddleware(async (c, next) => {
  if (!BUFFER_NAME.test(c.req.param('name') ?? '')) {
    throw new AppError(400, 'invalid_buffer_name', `A buffer name must match ${BUFFER_NAME.source}`)
  }
  await next()
})

function itemId(raw: string, what: string): string {
  const id = parseItemId(raw)
  if (id === null) throw new AppError(400, 'invalid_id', `${what} must be an item id such as 1700000000000-0`)
  return id
}

function pageLimit(raw: string | undefined): number {
  if (raw === undefined) return PAGE_DEFAULT
  const limit = /^\d{1,4}$/.test(raw) ? Number(raw) : Number.NaN
  if (!(limit >= 1 && limit <= PAGE_MAX)) {
    throw new AppError(400, 'invalid_limit', `limit must be a whole number from 1 to ${PAGE_MAX}`)
  }
  return limit
}

function toNewItems(body: z.infer<typeof appendBody>): NewItem[] {
  const items = 'items' in body ? body.items : [body]
  return items.map((item, index) => {
    const data = JSON.stringify(item.data)
    const bytes = Buffer.byteLength(data)
    if (bytes > ITEM_MAX_BYTES) {
      const which = 'items' in body ? `items.${index}` : 'The item'
      throw new AppError(
        413,
        'item_too_large',
        `${which}: data is ${bytes} bytes of JSON; the limit is ${ITEM_MAX_BYTES}`,
      )
    }
    return { event: item.event ?? DEFAULT_EVENT, data }
  })
}

/** The stored JSON text goes out as it is, without a parse and a serialise per item. */
const itemJson = ({ id, event, data, time }: BufferItem) =>
  `{"id":"${id}","event":${JSON.stringify(event)},"data":${data},"time":"${new Date(time).toISOString()}"}`

/** Where a stream starts: Last-Event-ID, else ?lastEventId=, else ?from=earliest, else live only. */
function streamStart(c: Context): ReadFrom {
  const resumeId = c.req.header('Last-Event-ID') || c.req.query('lastEventId')
  if (resumeId) return { after: itemId(resumeId, 'Last-Event-ID') }
  const from = c.req.query('from')
  if (from === undefined) return 'newest'
  if (from === 'earliest') return 'oldest'
  throw new AppError(400, 'invalid_from', 'from must be "earliest" (or absent for live only)')
}

/**
 * Data-plane buffers: append (API token), page and follow live over SSE (API token or session).
 * See doc/architecture.md, "Streams", for ids, resume and the reset rule.
 */
export function bufferRoutes({ hub, logger, apiTokens, scripts, maxLen, sse }: BufferRouteOptions) {
  const writer = apiToken({ tokens: apiTokens })
  const reader = tokenOrSession({ tokens: apiTokens })
  const storeOf = (c: Context<{ Variables: Variables }>) => new BufferStore(c.var.redis, scripts, maxLen)
  const heartbeats = new Heartbeats(sse.heartbeatMs)

  return new Hono<{ Variables: Variables }>()
    .post('/buffers/:name/items', writer, validName, jsonBody(appendBody), async (c) => {
      const items = toNewItems(c.req.valid('json'))
      const ids = await storeOf(c).append(c.req.param('name'), items)
      return c.json({ ids }, 201)
    })
    .get('/buffers/:name/items', reader, validName, async (c) => {
      const rawAfter = c.req.query('after')
      const after = rawAfter === undefined ? undefined : itemId(rawAfter, 'after')
      const limit = pageLimit(c.req.query('limit'))
      const page = await storeOf(c).read(c.req.param('name'), after ? { after } : 'oldest', limit)
      const last = page.items.at(-1)?.id
      const next = last ?? (page.reset ? null : (after ?? null))
      const reset = page.reset ? `,"reset":true,"reason":"${page.reset.reason}"` : ''
      const body = `{"items":[${page.items.map(itemJson).join(',')}],"next":${next ? `"${next}"` : 'null'}${reset}}`
      return c.body(body, 200, { 'Content-Type': 'application/json' })
    })
    .get('/buffers/:name', reader, validName, async (c) => {
      const name = c.req.param('name')
      const info = await storeOf(c).info(name)
      if (!info) throw new AppError(404, 'buffer_not_found', `No buffer named ${name}`)
      return c.json({ name, ...info, subscribers: hub.subscribers(name) })
    })
    .delete('/buffers/:name', writer, validName, async (c) => {
      await storeOf(c).delete(c.req.param('name'))
      return c.body(null, 204)
    })
    .get('/buffers/:name/events', reader, validName, async (c) => {
      const name = c.req.param('name')
      const start = streamStart(c)
      // Hono runs GET handlers for HEAD: answer with the stream's head alone, never open one.
      if (c.req.method === 'HEAD') return c.body(null, 200, EVENT_STREAM_HEADERS)
      if (hub.closed) return goElsewhere(c, sse.retryMs)
      // Read before the stream opens, so Redis trouble is a 503 a client can see, not a broken stream;
      // but EventSource gives up for good on anything but 200, so a browser is told to come back instead.
      const store = storeOf(c)
      const first = await store.read(name, start, CATCH_UP_PAGE).catch((error: unknown) => {
        if (error instanceof RedisUnavailableError && c.req.header('Accept')?.includes('text/event-stream'))
          return null
        throw error
      })
      if (!first) return goElsewhere(c, sse.retryMs)
      const { sink, end, response } = openEventStream(c)
      let membership: Membership | null = null
      const outbox = new Outbox({
        sink,
        end,
        heartbeats,
        maxEvents: sse.queueMaxEvents,
        maxBytes: sse.queueMaxBytes,
        onEnd: (outcome) => {
          membership?.leave()
          if (outcome === 'overflow') logger.info({ buffer: name }, 'sse: slow client disconnected')
        },
      })
      const cursor = startCursor(start, first)
      outbox.push(openingFrame(sse.retryMs, cursor))
      const follower = new Follower(
        { name, store, outbox, logger, endGraceMs: END_GRACE_MS, maxBehind: sse.queueMaxEvents },
        cursor,
      )
      follower.sendPage(first)
      membership = hub.join(name, first.newestId ?? BEFORE_ALL, follower)
      if (!membership) void follower.end()
      else if (!outbox.open) membership.leave()
      else follower.follow(membership, first.items.length === CATCH_UP_PAGE)
      return response
    })
}

/**
 * The answer of a replica that is shutting down, or cannot reach Redis, to an event stream: an empty
 * stream that ends at once, on a connection that closes. Any status but 200 would make EventSource give
 * up for good; this makes it reconnect after `retry`, with its Last-Event-ID, to a replica (this one or
 * another) that can serve.
 */
function goElsewhere(c: Context, retryMs: number): Response {
  return c.body(retryFrame(retryMs).toString(), 200, { ...EVENT_STREAM_HEADERS, Connection: 'close' })
}

/** The cursor before the first page: the resume id, or the newest id for live only. */
function startCursor(start: ReadFrom, first: Page): string {
  if (start === 'newest') return first.newestId ?? BEFORE_ALL
  if (start === 'oldest') return BEFORE_ALL
  return start.after
}
