import type { Context, TypedResponse } from 'hono'
import type { ContentfulStatusCode } from 'hono/utils/http-status'
import type { JSONParsed } from 'hono/utils/types'

declare const holds: unique symbol

/**
 * JSON built by hand, as text, on a hot path (a page of items whose data is already JSON text in
 * Redis), with the type of the value it spells: the route's declared response type, which typed
 * clients see. The contract test checks such bodies against the route's schema.
 */
export type JsonText<T> = string & { readonly [holds]: T }

/** Marks `text` as the JSON of a `T`: only the builder of the text may say so. */
export const asJsonText = <T>(text: string) => text as JsonText<T>

/**
 * Answers with JSON text as it is, typed like `c.json(value)` would be, without a parse and a
 * serialise per response.
 */
export const jsonText = <T, Status extends ContentfulStatusCode>(
  c: Context,
  text: JsonText<T>,
  status: Status,
) =>
  c.body(text, status, { 'Content-Type': 'application/json' }) as unknown as Response &
    TypedResponse<JSONParsed<T>, Status, 'json'>
