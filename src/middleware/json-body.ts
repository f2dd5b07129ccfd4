import { zValidator } from '@hono/zod-validator'
import type { z } from 'zod'
import { AppError } from '../errors.js'

const JSON_MEDIA_TYPE = /^application\/([\w.-]+\+)?json$/i

function describeIssues(error: { issues: readonly z.core.$ZodIssue[] }): string {
  return error.issues
    .map((issue) => (issue.path.length > 0 ? `${issue.path.join('.')}: ${issue.message}` : issue.message))
    .join('; ')
}

/**
 * Validates a JSON request body against `schema`; handlers read it with `c.req.valid('json')`.
 * Bad input is always a 4xx JSON error: a body sent as another media type is 415 (the validator would
 * otherwise read it as `{}`), malformed JSON is 400 `bad_request`, a schema mismatch is 400
 * `invalid_body` naming each offending field. A request without a body validates `{}`.
 *
 * @example
 * ```ts
 * app.post('/things', jsonBody(z.object({ name: z.string() })), (c) => c.json(c.req.valid('json')))
 * ```
 */
export const jsonBody = <Schema extends z.ZodType>(schema: Schema) =>
  zValidator('json', schema, (result, c) => {
    const mediaType = c.req.header('Content-Type')?.split(';')[0]?.trim() ?? ''
    const hasBody = c.req.raw.body !== null && c.req.header('Content-Length') !== '0'
    if (hasBody && !JSON_MEDIA_TYPE.test(mediaType)) {
      throw new AppError(415, 'unsupported_media_type', 'Send the body as application/json')
    }
    if (!result.success) throw new AppError(400, 'invalid_body', describeIssues(result.error))
  })
