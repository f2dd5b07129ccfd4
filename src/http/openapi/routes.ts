import { OpenAPIHono } from '@hono/zod-openapi'
import type { Env } from 'hono'
import { rejectInvalid } from '../middleware/validation.js'

/**
 * A group of routes defined with @hono/zod-openapi (`.openapi(createRoute({...}), handler)`), whose
 * failed validations answer with the API's 400 and 415 (see validation.ts). createApp mounts each group
 * with `.route()`, which carries its definitions into the app's document.
 *
 * @example
 * ```ts
 * export const thingRoutes = () => apiRoutes<{ Variables: ServiceVariables }>().openapi(getThing, handler)
 * ```
 */
export const apiRoutes = <E extends Env = Env>() => new OpenAPIHono<E>({ defaultHook: rejectInvalid })
