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
 * Bad input is always a 4xx JSON error: a body sent as another media type is 415 (the validator would
 * otherwise read it as `{}`), malformed JSON is 400 `bad_request`, a schema mismatch is 400
 * `invalid_body` naming each offending field, or saying the body nests deeper than JSON_MAX_DEPTH (checked
 * before the schema, whose recursion a deep body could overflow). A request without a body validates `{}`.
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
      const mediaType = c.req.header('Content-Type')?.split(';')[0]?.trim() ?? ''
      const hasBody = c.req.raw.body !== null && c.req.header('Content-Length') !== '0'
      if (hasBody && !JSON_MEDIA_TYPE.test(mediaType)) {
        throw new ServiceError('unsupported', 'unsupported_media_type', 'Send the body as application/json')
      }
      if (!result.success) throw new ServiceError('invalid', 'invalid_body', describeIssues(result.error))
    },
  )
