import { z } from '@hono/zod-openapi'
import type { ContentfulStatusCode } from 'hono/utils/http-status'
import type { JSONValue } from 'hono/utils/types'

/**
 * What every route's responses have in common, for its definition with @hono/zod-openapi: the error
 * body, which status each error code comes with, and the headers the service sets. The routes list the
 * codes they can answer with; the contract test (tests/http/contract.test.ts) holds the service to them.
 */

/**
 * Any JSON value, null included, but present (`undefined` is no JSON). Typed as JSON, so that typed
 * clients see `JSONValue`, not `unknown`; what JSON.parse made of a body is JSON already.
 */
export const anyJson = z
  .unknown()
  .refine((value) => value !== undefined, { error: 'is required' })
  .openapi({ description: 'Any JSON value, null included.' }) as unknown as z.ZodType<JSONValue>

/** Every error code of the API and its status (README, "Errors"). */
export const ERROR_STATUS = {
  bad_request: 400,
  invalid_body: 400,
  invalid_buffer_name: 400,
  invalid_id: 400,
  invalid_limit: 400,
  invalid_from: 400,
  invalid_buffer_set: 400,
  invalid_cursor: 400,
  unauthorized: 401,
  invalid_grant: 401,
  forbidden: 403,
  cross_site_request: 403,
  not_found: 404,
  buffer_not_found: 404,
  payload_too_large: 413,
  item_too_large: 413,
  session_data_too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429,
  too_many_streams: 429,
  internal_error: 500,
  redis_unavailable: 503,
  replication_timeout: 503,
} as const satisfies Record<string, ContentfulStatusCode>

export type ErrorCode = keyof typeof ERROR_STATUS

/** What any route behind a credential can answer: no or a bad credential, refused, limited, Redis away. */
export const CREDENTIAL_ERRORS = [
  'unauthorized',
  'invalid_grant',
  'forbidden',
  'rate_limited',
  'redis_unavailable',
] as const satisfies readonly ErrorCode[]
type StatusOf<C extends ErrorCode> = (typeof ERROR_STATUS)[C]

const errorDetail = z
  .object({
    code: z.string().openapi({ description: 'Stable and machine-readable: what went wrong.' }),
    message: z.string().openapi({ description: 'For people: what went wrong and how to fix it.' }),
    requestId: z
      .string()
      .optional()
      .openapi({ description: 'With `internal_error` only: the request id to quote to the operators.' }),
  })
  .openapi('ErrorDetail')

/** The one error body of the API. */
export const errorBody = z
  .object({ error: errorDetail })
  .openapi('Error', { description: 'Every error response of the service has this body.' })

type HeaderObject = { description: string; required: boolean; schema: { type: 'string'; pattern?: string } }
type Headers = Record<string, HeaderObject | { $ref: string }>

const header = (description: string, required: boolean, pattern?: string): HeaderObject => ({
  description,
  required,
  schema: { type: 'string', ...(pattern !== undefined && { pattern }) },
})

/** Every response carries it, errors and event streams included: one component, referenced. */
const REQUEST_ID = header(
  "This request's id, logged with it: the one the client sent in `X-Request-Id`, or a new UUID.",
  true,
)
const requestIdHeader = { 'X-Request-Id': { $ref: '#/components/headers/X-Request-Id' } }

/** The headers the document defines once (see openapi/document.ts). */
export const HEADER_COMPONENTS = { 'X-Request-Id': REQUEST_ID }

/** The session cookie, as every successful session response sets it (and a logout clears it). */
export const SET_COOKIE = {
  'Set-Cookie': header(
    'The session cookie `sid` (HttpOnly, SameSite=Lax, Path=/, Secure in production) with a fresh Max-Age: ' +
      'the session slides. `Max-Age=0` clears it. Responses that set it are `Cache-Control: no-store`.',
    true,
    '^sid=',
  ),
}

/** Where a route's 401 comes from: a bearer check (with a challenge) or a missing session cookie (none). */
export type Challenge = 'bearer' | 'session'

/** The response of a success: its body (none for a 204) and its headers besides X-Request-Id. */
export function success<Content extends Record<string, { schema: unknown }> | undefined = undefined>(
  description: string,
  content?: Content,
  headers: Record<string, HeaderObject> = {},
): { description: string; headers: Headers; content: Content } {
  return { description, headers: { ...requestIdHeader, ...headers }, content: content as Content }
}

/** A JSON body, as `content` of a response or a request. */
export const json = <Schema extends z.ZodType>(schema: Schema, example?: unknown) => ({
  'application/json': { schema, ...(example !== undefined && { example }) },
})

const DESCRIPTIONS: Record<number, string> = {
  400: 'The request breaks a rule; the message names it.',
  401: 'Credentials are missing or not valid.',
  403: 'Valid credentials that do not cover this request, or a browser request from another site.',
  404: 'Nothing there.',
  413: 'Too large.',
  415: 'The body is not JSON (`Content-Type: application/json`).',
  429: 'Over a limit.',
  500: 'A bug: the body carries the request id; the log has the details.',
  503: 'Redis is unavailable (disconnected, too slow, or answering "not now"): retry after `Retry-After`.',
}

type ErrorResponse = {
  description: string
  headers: Headers
  content: { 'application/json': { schema: typeof errorBody; example: unknown } }
}

/**
 * The error responses of a route, one per status, each listing its codes: the body's `code` is one of
 * them. `internal_error` (500) is added to every route. A 401 carries `WWW-Authenticate` unless the
 * route takes a session cookie only (`challenge: 'session'`); a 403 does where it comes from the
 * credentials (`forbidden`); a 503 always carries `Retry-After`, a 429 where every code of it does.
 */
export function errorResponses<const Codes extends readonly ErrorCode[]>(
  codes: Codes,
  { challenge = 'bearer' }: { challenge?: Challenge } = {},
): { [S in StatusOf<Codes[number] | 'internal_error'>]: ErrorResponse } {
  const byStatus = new Map<number, ErrorCode[]>()
  for (const code of [...codes, 'internal_error' as const]) {
    const status = ERROR_STATUS[code]
    byStatus.set(status, [...(byStatus.get(status) ?? []), code])
  }
  const responses: Record<number, ErrorResponse> = {}
  for (const [status, statusCodes] of byStatus) {
    const headers: Headers = { ...requestIdHeader }
    if (status === 401) {
      headers['WWW-Authenticate'] = header(
        'How to authenticate: `Bearer`, with `error="invalid_token"` when the token presented is not valid.',
        challenge === 'bearer',
      )
    }
    if (status === 403 && statusCodes.includes('forbidden')) {
      headers['WWW-Authenticate'] = header(
        'With `forbidden`: `Bearer error="insufficient_scope"`.',
        statusCodes.length === 1,
      )
    }
    if (status === 429 || status === 503) {
      headers['Retry-After'] = header(
        'Seconds until a retry may succeed.',
        status === 503 || statusCodes.every((code) => code === 'rate_limited'),
        '^[0-9]+$',
      )
    }
    const schema = errorBody.extend({
      error: errorDetail.extend({ code: z.enum(statusCodes as [ErrorCode, ...ErrorCode[]]) }),
    })
    const [first] = statusCodes as [ErrorCode]
    responses[status] = {
      description: `${DESCRIPTIONS[status]} Codes: ${statusCodes.map((code) => `\`${code}\``).join(', ')}.`,
      headers,
      content: {
        'application/json': {
          // Typed as the shared body: a client reads every error the same way.
          schema: schema as unknown as typeof errorBody,
          example: { error: { code: first, message: 'What went wrong, and how to fix it.' } },
        },
      },
    }
  }
  return responses as { [S in StatusOf<Codes[number] | 'internal_error'>]: ErrorResponse }
}
