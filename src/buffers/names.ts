/** What a buffer may be called: it becomes part of a Redis key (see keys.ts), so no braces, no spaces. */
export const BUFFER_NAME = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/

/** An item's event name; it becomes an SSE `event:` line, so no line breaks. */
export const EVENT_NAME = /^[A-Za-z0-9._:-]{1,64}$/

/** The event of an item appended without one, as in SSE itself. */
export const DEFAULT_EVENT = 'message'
