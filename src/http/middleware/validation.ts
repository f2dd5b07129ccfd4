import type { Context } from 'hono'
import { z } from 'zod'
import { ServiceError } from '../../lib/errors.js'
import { isJsonRequest } from './json-body.js'

/** What @hono/zod-openapi hands a hook: the part of the request checked, and how it went. */
type ValidationResult = { target: string } & ({ success: true } | { success: false; error: z.ZodError })

/**
 * A refinement's failure that answers with the API error `code` (a path or query value:
 * `invalid_buffer_name`, `invalid_limit`, ...) instead of the generic `invalid_body`.
 *
 * @example
 * ```ts
 * z.string().transform((raw, ctx) => parseItemId(raw) ?? failWith(ctx, 'invalid_id', 'after must be an item id'))
 * ```
 */
export function failWith(ctx: z.RefinementCtx, code: string, message: string): never {
  ctx.addIssue({ code: 'custom', message, params: { code } })
  return z.NEVER
}

function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => (issue.path.length > 0 ? `${issue.path.join('.')}: ${issue.message}` : issue.message))
    .join('; ')
}

/**
 * The hook of every route defined with @hono/zod-openapi (`defaultHook`): it turns a failed validation
 * into the API's 400 (through the one error handler), so a schema that documents a request also
 * refuses it with the usual error body. A JSON body that breaks its schema is `invalid_body`, naming
 * each offending field; a path, query or header value is the code its refinement names (see
 * {@link failWith}). A JSON body is also refused with 415 when its Content-Type, though present, is
 * not JSON (an empty one), which the validator would take as `{}`.
 *
 * @example
 * ```ts
 * const routes = new OpenAPIHono({ defaultHook: rejectInvalid })
 * ```
 */
export function rejectInvalid(result: ValidationResult, c: Context): void {
  if (result.target === 'json' && !isJsonRequest(c)) {
    throw new ServiceError('unsupported', 'unsupported_media_type', 'Send the body as application/json')
  }
  if (result.success) return
  if (result.target === 'json') {
    throw new ServiceError('invalid', 'invalid_body', describeIssues(result.error))
  }
  const [issue] = result.error.issues
  const code = issue?.code === 'custom' ? (issue.params?.code as string | undefined) : undefined
  throw new ServiceError('invalid', code ?? 'bad_request', issue?.message ?? 'Invalid request')
}
