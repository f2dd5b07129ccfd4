/**
 * The rules a buffer and its items follow, in one place: the routes validate against them, the store
 * and the live reader rely on them.
 */

/** What a buffer may be called: it becomes part of a Redis key (see redis/keys.ts), so no braces, no spaces. */
export const BUFFER_NAME = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/

/** An item's event name; it becomes an SSE `event:` line, so no line breaks. */
export const EVENT_NAME = /^[A-Za-z0-9._:-]{1,64}$/

/**
 * Event names an item may not take: the service's own events on a stream (`reset`, `revoked`), which a
 * client would take an item named so for, and EventSource's (`error`, `open`): an event named `error`
 * runs a browser's `source.onerror`.
 */
export const RESERVED_EVENT_NAMES: readonly string[] = ['reset', 'revoked', 'error', 'open']

/** The event of an item appended without one, as in SSE itself. */
export const DEFAULT_EVENT = 'message'

/** The largest item: its data as JSON text, in UTF-8 bytes. */
export const ITEM_MAX_BYTES = 64 * 1024

/** The most items one append may carry. */
export const BATCH_MAX_ITEMS = 1000

/** Items per page of `GET /buffers/:name/items` when the client does not say, and the most it may ask for. */
export const PAGE_DEFAULT = 100
export const PAGE_MAX = 1000
