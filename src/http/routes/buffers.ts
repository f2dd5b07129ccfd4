import { createRoute, type z } from '@hono/zod-openapi'
import type { Context } from 'hono'
import { BUFFER_NAME } from '../../buffers/limits.js'
import type { BufferSet } from '../../buffers/live/buffer-set.js'
import type { StreamOwner } from '../../buffers/live/subscriptions.js'
import type { ReadFrom } from '../../buffers/store.js'
import { ServiceError } from '../../lib/errors.js'
import { BufferCounters } from '../../process/metrics.js'
import type { AuthVariables, authorization } from '../middleware/auth.js'
import { jsonBody } from '../middleware/json-body.js'
import { rateLimit } from '../middleware/rate-limit.js'
import type { RequestObserver } from '../middleware/request-observer.js'
import type { ServiceVariables } from '../middleware/services.js'
import { jsonText } from '../openapi/json-text.js'
import { CREDENTIAL_ERRORS, type ErrorCode, errorResponses, json, success } from '../openapi/responses.js'
import { apiRoutes } from '../openapi/routes.js'
import { SECURITY } from '../openapi/security.js'
import {
  appendBody,
  bufferParams,
  pageQuery,
  setStreamHeaders,
  setStreamQuery,
  streamHeaders,
  streamQuery,
  toNewItems,
} from './buffer-input.js'
import {
  appended,
  bufferInfo,
  eventStream,
  itemPage,
  pageJson,
  resetData,
  revokedData,
  setEventStream,
  setItemData,
  setResetData,
} from './buffer-output.js'

export interface BufferRouteOptions {
  /** Who may read and write which buffer (see doc/security.md). */
  auth: ReturnType<typeof authorization>
  /** Where stored appends are counted (the app's metrics); failures are counted by {@link appendFailures}. */
  counters?: BufferCounters
  /** SSE_MAX_BUFFERS_PER_STREAM: the most buffers `GET /events` follows over one stream. */
  maxBuffersPerStream: number
}

const APPEND_ROUTE = '/buffers/:name/items'

/**
 * Counts refused and failed appends by their error code: an observer for `observeRequests()`, which
 * sees every one, those refused before the route (a body over BODY_LIMIT_BYTES) included.
 */
export const appendFailures =
  (counters: BufferCounters): RequestObserver =>
  ({ method, route, status, failureCode }) => {
    if (status >= 400 && route === APPEND_ROUTE && method === 'POST') {
      counters.appendFailed(failureCode ?? `http_${status}`)
    }
  }

/** What ends a stream besides its client: the session that opened it, and the grant that allowed it. */
function streamOwner(c: Context<{ Variables: ServiceVariables & AuthVariables }>): StreamOwner {
  const { sessionId, grantExpiresAt } = c.get('principal')
  const sessions = c.get('sessions')
  return {
    ...(grantExpiresAt !== undefined && { endsAt: grantExpiresAt }),
    ...(sessionId !== undefined && {
      sessionId,
      expiry: { afterMs: sessions.ttlMs, remainingMs: () => sessions.remainingMs(sessionId) },
    }),
  }
}

type BufferVariables = ServiceVariables & AuthVariables

/** What every buffer route can answer besides its own errors: credentials, Redis, a malformed name. */
const BUFFER_ERRORS = ['invalid_buffer_name', ...CREDENTIAL_ERRORS] as const satisfies readonly ErrorCode[]

/** Reads take the admin token, a grant token or a session cookie whose grant covers the buffer. */
const readRoute = { tags: ['Buffers'], security: SECURITY.bufferRead, request: { params: bufferParams } }
/** Writes take a bearer token: the admin token or a grant token whose grant covers the buffer. */
const writeRoute = { tags: ['Buffers'], security: SECURITY.bufferWrite, request: { params: bufferParams } }

const appendItems = createRoute({
  ...writeRoute,
  method: 'post',
  path: '/buffers/{name}/items',
  summary: 'Append one item or a batch',
  description:
    'Stored all or nothing; 201 once Redis has stored every item (and, with REDIS_APPEND_WAIT_REPLICAS, ' +
    'once that many replicas confirm them). A 503 `redis_unavailable` means Redis did not answer in time: ' +
    'the items may still have been stored, so a retry can store them twice. A 503 `replication_timeout` ' +
    'means the primary stored them but too few replicas confirmed them in time: they may be lost in a ' +
    'failover, or be delivered; a retry stores them again. Appends are limited per grant subject ' +
    '(RATE_LIMIT_APPENDS_PER_MINUTE); the admin token is not limited.',
  request: {
    ...writeRoute.request,
    body: jsonBody(appendBody, {
      description: 'One item, or `{"items": [...]}`.',
      example: { event: 'tick', data: { sym: 'ACME', px: 12.5 } },
    }),
  },
  responses: {
    201: success('Stored, with the ids in order.', json(appended)),
    ...errorResponses([
      ...BUFFER_ERRORS,
      'bad_request',
      'invalid_body',
      'payload_too_large',
      'item_too_large',
      'unsupported_media_type',
      'replication_timeout',
    ]),
  },
})

const readPage = createRoute({
  ...readRoute,
  method: 'get',
  path: '/buffers/{name}/items',
  summary: 'Read a page of items',
  description:
    'From the oldest retained item, or after `after`; a buffer that does not exist reads as empty. ' +
    'When items after `after` are gone (trimmed, deleted, or `after` is from the future), the page starts ' +
    'at the oldest retained item and says `"reset": true` with the `reason`.',
  request: { ...readRoute.request, query: pageQuery },
  responses: {
    200: success('A page; poll with `next` as `after`.', json(itemPage)),
    ...errorResponses([...BUFFER_ERRORS, 'invalid_id', 'invalid_limit']),
  },
})

const describeBuffer = createRoute({
  ...readRoute,
  method: 'get',
  path: '/buffers/{name}',
  summary: 'Describe a buffer',
  responses: {
    200: success('Its length, the ids at both ends, and its subscribers here.', json(bufferInfo)),
    ...errorResponses([...BUFFER_ERRORS, 'buffer_not_found']),
  },
})

const deleteBuffer = createRoute({
  ...writeRoute,
  method: 'delete',
  path: '/buffers/{name}',
  summary: 'Delete a buffer',
  description:
    'Its items and its live followers’ positions: a follower gets a `deleted` reset. Ids stay increasing ' +
    'if the buffer is created again. 204 also when there was nothing to delete.',
  responses: {
    204: success('Deleted.'),
    ...errorResponses([...BUFFER_ERRORS, 'payload_too_large']),
  },
})

/** What both event stream routes say of how a stream goes, after what their items look like. */
const STREAM_RULES = [
  '- `: heartbeat` comments keep the connection alive after SSE_HEARTBEAT_MS of silence.',
  '- A stream opened with a session ends with `event: revoked` when the session or its grant ends; one opened with a grant token ends at its `exp`.',
  '- A client that falls too far behind is disconnected and resumes with its Last-Event-ID. On shutdown, streams end cleanly and EventSource reconnects elsewhere.',
  '',
  'When Redis cannot be reached as the stream opens, a client that sends `Accept: text/event-stream` gets a 200 stream holding only `retry:`, on a connection that closes, because EventSource gives up for good on any other status; other clients get the 503. At most SSE_MAX_STREAMS_PER_SESSION streams per session are open at once (429 `too_many_streams`).',
]

/** An event stream's 200 response, whose blocks `schema` describes. */
const streamResponse = <Schema extends z.ZodType>(schema: Schema) =>
  success(
    'The event stream. Behind nginx, also set `proxy_buffering off`.',
    { 'text/event-stream': { schema } },
    {
      'X-Accel-Buffering': {
        description: '`no`: keeps nginx from buffering the stream.',
        required: true,
        schema: { type: 'string' },
      },
    },
  )

const followBuffer = createRoute({
  ...readRoute,
  method: 'get',
  path: '/buffers/{name}/events',
  summary: 'Follow a buffer live (Server-Sent Events)',
  description: [
    'A `text/event-stream` (Server-Sent Events, WHATWG HTML), for `EventSource` or any SSE client; `HEAD` answers the headers alone.',
    '',
    '- The first block is `retry: <SSE_RETRY_MS>` and `id:` the position the stream starts from, so a client that drops before its first item resumes from there.',
    '- Each item is a block `id: <id>`, `event: <event>` (`message` unless the item named one), `data: <JSON>`.',
    '- A client that reconnects with `Last-Event-ID` (EventSource does) gets every later item exactly once, in order, or first an `event: reset` (no `id:`) with `{"reason","oldestId"}` and then the items from the oldest retained.',
    ...STREAM_RULES,
  ].join('\n'),
  request: { ...readRoute.request, query: streamQuery, headers: streamHeaders },
  responses: {
    200: streamResponse(eventStream),
    ...errorResponses([...BUFFER_ERRORS, 'invalid_id', 'invalid_from', 'too_many_streams']),
  },
})

/** `GET /events`: its query's limit is the deployment's (SSE_MAX_BUFFERS_PER_STREAM). */
const followBuffers = (maxBuffers: number) =>
  createRoute({
    tags: ['Buffers'],
    // Every buffer named must be readable with the credential: one that is not refuses the stream.
    security: SECURITY.bufferRead,
    method: 'get',
    path: '/events',
    summary: 'Follow several buffers over one stream (Server-Sent Events)',
    description: [
      `One \`text/event-stream\` for 1 to ${maxBuffers} buffers (SSE_MAX_BUFFERS_PER_STREAM), \`?buffer=a&buffer=b\`; the same stream as \`GET /buffers/{name}/events\` for each of them, with these differences. \`HEAD\` answers the headers alone.`,
      '',
      '- Every `id:` is a cursor: one id that names the last item delivered of every buffer (doc/architecture.md, "Several buffers over one stream"). The first block is `retry: <SSE_RETRY_MS>` and the cursor of where the stream starts.',
      '- Each item is a block `id: <cursor>`, `event: <event>` (`message` unless the item named one), `data: {"buffer","id","data"}`: the buffer, the item id and its data.',
      '- A client that reconnects with `Last-Event-ID` (EventSource does) gets every later item of every buffer exactly once, in order within each buffer, or for a buffer whose items after the cursor are gone first an `event: reset` (no `id:`) with `{"buffer","reason","oldestId"}` and then its items from the oldest retained. A cursor of another set of buffers, or a damaged one, is a 400 `invalid_cursor`.',
      ...STREAM_RULES,
    ].join('\n'),
    request: { query: setStreamQuery(maxBuffers), headers: setStreamHeaders },
    responses: {
      200: streamResponse(setEventStream),
      ...errorResponses([
        ...BUFFER_ERRORS,
        'invalid_buffer_set',
        'invalid_cursor',
        'invalid_from',
        'too_many_streams',
      ]),
    },
  })

/** Where a stream starts: Last-Event-ID, else ?lastEventId=, else ?from=earliest, else live only. */
function streamStart(
  { lastEventId, from }: { lastEventId?: string | undefined; from?: string | undefined },
  header: string | undefined,
): ReadFrom {
  const resumeId = header ?? lastEventId
  if (resumeId) return { after: resumeId }
  return from === 'earliest' ? 'oldest' : 'newest'
}

/**
 * Where a stream of `set` starts in each of its buffers: the positions its cursor names (Last-Event-ID,
 * else ?lastEventId=), else ?from=earliest, else live only.
 */
function setStreamStarts(
  set: BufferSet,
  { lastEventId, from }: { lastEventId?: string | undefined; from?: string | undefined },
  header: string | undefined,
): ReadFrom[] {
  const cursor = header ?? lastEventId
  if (!cursor) return set.names.map(() => streamStart({ from }, undefined))
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

/**
 * Data-plane buffers: append and delete (write), page, describe and follow live over SSE (read), one
 * buffer per stream or several (`GET /events?buffer=a&buffer=b`).
 * See doc/security.md for who may do which, and doc/architecture.md, "Streams", for ids, resume and
 * the reset rule.
 */
export function bufferRoutes({
  auth,
  counters = new BufferCounters(),
  maxBuffersPerStream,
}: BufferRouteOptions) {
  const writer = auth.buffer('write')
  const reader = auth.buffer('read')
  // Every buffer `?buffer=` names must be readable: one that is not refuses the whole stream. This runs
  // before the query's validation, so a list that validation will refuse anyway (too many names, a malformed
  // one) is left to its 400 rather than checked name by name.
  const setReader = auth.buffer('read', (c) => {
    const names = [...new Set(c.req.queries('buffer') ?? [])]
    return names.length <= maxBuffersPerStream && names.every((name) => BUFFER_NAME.test(name)) ? names : []
  })
  // Per grant subject (RATE_LIMIT_APPENDS_PER_MINUTE); the admin token's producers are not limited.
  const appendsOfUser = rateLimit<BufferVariables>('appends', (c) => c.get('principal').sub)

  const routes = apiRoutes<{ Variables: BufferVariables }>()
  // Referenced from the event stream's `data` (contentSchema), not from another schema.
  routes.openAPIRegistry.register('ResetData', resetData)
  routes.openAPIRegistry.register('RevokedData', revokedData)
  routes.openAPIRegistry.register('SetItemData', setItemData)
  routes.openAPIRegistry.register('SetResetData', setResetData)
  return routes
    .openapi({ ...appendItems, middleware: [writer, appendsOfUser] as const }, async (c) => {
      const items = toNewItems(c.req.valid('json'))
      const ids = await c.get('buffers').append(c.req.valid('param').name, items)
      counters.itemsAppended += ids.length
      counters.appendBatches++
      return c.json({ ids }, 201)
    })
    .openapi({ ...readPage, middleware: [reader] as const }, async (c) => {
      const { after, limit } = c.req.valid('query')
      const page = await c.get('buffers').read(c.req.valid('param').name, after ? { after } : 'oldest', limit)
      return jsonText(c, pageJson(page, after), 200)
    })
    .openapi({ ...describeBuffer, middleware: [reader] as const }, async (c) => {
      const { name } = c.req.valid('param')
      const info = await c.get('buffers').info(name)
      if (!info) throw new ServiceError('not_found', 'buffer_not_found', `No buffer named ${name}`)
      return c.json({ name, ...info, subscribers: c.get('subscriptions').subscribers(name) }, 200)
    })
    .openapi({ ...deleteBuffer, middleware: [writer] as const }, async (c) => {
      await c.get('buffers').delete(c.req.valid('param').name)
      return c.body(null, 204)
    })
    .openapi({ ...followBuffer, middleware: [reader] as const }, (c) => {
      const { name } = c.req.valid('param')
      const start = streamStart(c.req.valid('query'), c.req.valid('header')['Last-Event-ID'])
      return c.get('subscriptions').subscribe(c, name, start, streamOwner(c))
    })
    .openapi({ ...followBuffers(maxBuffersPerStream), middleware: [setReader] as const }, (c) => {
      const query = c.req.valid('query')
      const starts = setStreamStarts(query.buffer, query, c.req.valid('header')['Last-Event-ID'])
      return c.get('subscriptions').subscribeToSet(c, query.buffer, starts, streamOwner(c))
    })
}
