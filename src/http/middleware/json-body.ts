import { zValidator } from '@hono/zod-validator'
import { z } from 'zod'
import { ServiceError } from '../../lib/errors.js'

const JSON_MEDIA_TYPE = /^application\/([\w.-]+\+)?json$/i

/** Deeper than any real document; recursive validation and JSON.stringify overflow the stack at a few thousand. */
const JSON_MAX_DEPTH = 64

/** Whether `value` nests objects and arrays at most JSON_MAX_DEPTH deep; iterative, so any depth is safe. */
function withinMaxDepth(value: unknown): boolean {
  const pending: [unknown, number][] = [[value, 1]]
  for (let next = pending.pop(); next; next = pending.pop()) {
    const [node, depth] = next
    if (typeof node !== 'object' || node === null) continue
    if (depth > JSON_MAX_DEPTH) return false
    for (const child of Object.values(node)) pending.push([child, depth + 1])
  }
  return true
}

function describeIssues(error: {
  issues: readonly { path: readonly PropertyKey[]; message: string }[]
}): string {
  return error.issues
    .map((issue) => (issue.path.length > 0 ? `${issue.path.join('.')}: ${issue.message}` : issue.message))
    .join('; ')
}

/**
 * Validates a JSON request body against `schema`; handlers read it with `c.req.valid('json')`.
 * Bad input is always a 4xx JSON error: a request that names another media type is 415 whatever its
 * length (the validator would otherwise read it as `{}`), malformed JSON is 400 `bad_request`, a schema
 * mismatch is 400 `invalid_body` naming each offending field, or saying the body nests deeper than
 * JSON_MAX_DEPTH (checked before the schema, whose recursion a deep body could overflow). A request with
 * neither a Content-Type nor a body validates `{}`; a body without a Content-Type is 415.
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
 * app.post('/things', jsonBody(z.object({ name: z.string() })), (c) => c.json(c.req.valid('json')))
 * ```
 */
export const jsonBody = <Schema extends z.ZodType>(schema: Schema) =>
  zValidator(
    'json',
    z.unknown().refine(withinMaxDepth, `JSON is nested deeper than ${JSON_MAX_DEPTH} levels`).pipe(schema),
    (result, c) => {
      const contentType = c.req.header('Content-Type')
      const acceptable =
        contentType === undefined
          ? c.req.raw.body === null || c.req.header('Content-Length') === '0'
          : JSON_MEDIA_TYPE.test(contentType.split(';')[0]?.trim() ?? '')
      if (!acceptable) {
        throw new ServiceError('unsupported', 'unsupported_media_type', 'Send the body as application/json')
      }
      if (!result.success) throw new ServiceError('invalid', 'invalid_body', describeIssues(result.error))
    },
  )
