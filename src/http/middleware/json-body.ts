import { IncomingMessage } from 'node:http'
import type { Context } from 'hono'
import { z } from 'zod'

const JSON_MEDIA_TYPE = /^application\/([\w.-]+\+)?json$/i

/** Deeper than any real document; recursive validation and JSON.stringify overflow the stack at a few thousand. */
const JSON_MAX_DEPTH = 64

/** A value met while walking a parsed body: its parent's entry and its key there, for the path. */
interface Visit {
  node: unknown
  depth: number
  parent: Visit | undefined
  key: string
}

const pathOf = (visit: Visit): string[] => {
  const path: string[] = []
  for (let at: Visit | undefined = visit; at?.parent; at = at.parent) path.unshift(at.key)
  return path
}

/**
 * What the parsed body holds that no schema may see, or undefined: nesting deeper than JSON_MAX_DEPTH;
 * a number JSON.parse made infinite (`1e400`: JSON.stringify would store it as null, and zod's number
 * refuses it); a `__proto__` key at any depth (JSON.parse keeps it as an own key, but zod's objects and
 * records skip it, a prototype-pollution guard, so it would vanish without a word). Refused rather than
 * changed, so that what is stored is what was sent. Iterative, so any depth is safe; the first one found.
 */
function jsonProblem(value: unknown): { path: string[]; message: string } | undefined {
  const pending: Visit[] = [{ node: value, depth: 1, parent: undefined, key: '' }]
  for (let visit = pending.pop(); visit; visit = pending.pop()) {
    const { node, depth } = visit
    if (typeof node === 'number' && !Number.isFinite(node)) {
      return { path: pathOf(visit), message: 'number is out of range (not finite)' }
    }
    if (typeof node !== 'object' || node === null) continue
    if (depth > JSON_MAX_DEPTH) {
      return { path: [], message: `JSON is nested deeper than ${JSON_MAX_DEPTH} levels` }
    }
    for (const [key, child] of Object.entries(node)) {
      if (key === '__proto__') return { path: pathOf(visit), message: '"__proto__" is not allowed as a key' }
      pending.push({ node: child, depth: depth + 1, parent: visit, key })
    }
  }
  return undefined
}

/**
 * The JSON body of a route defined with @hono/zod-openapi (`createRoute({ request: { body: jsonBody(schema) } })`):
 * `schema` validates it and documents it, and handlers read it with `c.req.valid('json')`.
 *
 * Bad input is always a 4xx JSON error: a request that names another media type is 415 whatever its
 * length (the validator would otherwise read it as `{}`), malformed JSON is 400 `bad_request`, a schema
 * mismatch is 400 `invalid_body` naming each offending field (see {@link rejectInvalid}). Before the
 * schema (whose recursion a deep body could overflow), a body nested deeper than JSON_MAX_DEPTH, a number
 * too large to be finite, or a `__proto__` key at any depth is 400 `invalid_body` too, naming where (see
 * jsonProblem). A request with neither a Content-Type nor a body validates `{}` (so the body is
 * `required` to the validator, which then always runs the schema); a body without a Content-Type is 415.
 *
 * The media type is refused even for an empty body: an HTML form can send a cross-site POST
 * (urlencoded, multipart or text/plain, never JSON) without a preflight, so a route that took an empty
 * form as `{}` would let any site act on a visitor's behalf (`POST /sessions` would replace the
 * visitor's session). Only a JSON type, which a browser sends cross-origin only after a CORS preflight,
 * or none at all with no body, reaches the handler. A script's bodiless `fetch(url, { method: 'POST',
 * mode: 'no-cors' })` sends no Content-Type either: that one is `rejectCrossSite`'s (csrf.ts) to refuse.
 *
 * @example
 * ```ts
 * const route = createRoute({ method: 'post', path: '/things', request: { body: jsonBody(thing) }, responses })
 * const withExample = jsonBody(thing, { description: 'A thing.', example: { name: 'x' } })
 * ```
 */
export const jsonBody = <Schema extends z.ZodType>(
  schema: Schema,
  { description, example }: { description?: string; example?: z.input<Schema> } = {},
) => ({
  required: true,
  ...(description !== undefined && { description }),
  content: { 'application/json': { schema: checkedJson(schema), ...(example !== undefined && { example }) } },
})

/**
 * `schema` behind the walk that refuses what no schema may see. A preprocess, not a pipe after
 * `z.unknown()`: the document shows a preprocess's target schema, and clients see its input type.
 */
const checkedJson = <Schema extends z.ZodType>(schema: Schema) =>
  z.preprocess<unknown, Schema, z.input<Schema>>((value, ctx) => {
    const problem = jsonProblem(value)
    if (problem) ctx.addIssue({ code: 'custom', ...problem, input: value })
    return value
  }, schema)

/**
 * Whether the request has no body. Over HTTP/1.1 only `Content-Length` or `Transfer-Encoding` announces
 * one (RFC 9112, 6.3), but @hono/node-server hands every POST a body stream, so a bodiless POST without
 * either (`curl -X POST`) must be recognised by its headers; `app.request()` gives such a request none.
 */
function hasNoBody(c: Context): boolean {
  const length = c.req.header('Content-Length')
  if (length === '0' || c.req.raw.body === null) return true
  const overNodeHttp = (c.env as { incoming?: unknown } | undefined)?.incoming instanceof IncomingMessage
  return overNodeHttp && length === undefined && c.req.header('Transfer-Encoding') === undefined
}

/**
 * Whether the request's body may be read as JSON: a JSON media type, or no Content-Type and no body.
 * @hono/zod-openapi refuses other media types itself, but takes an empty `Content-Type:` for none.
 */
export function isJsonRequest(c: Context): boolean {
  const contentType = c.req.header('Content-Type')
  return contentType === undefined
    ? hasNoBody(c)
    : JSON_MEDIA_TYPE.test(contentType.split(';')[0]?.trim() ?? '')
}
