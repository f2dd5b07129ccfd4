export interface SessionCookieOptions {
  name: string
  maxAgeSeconds: number
  /** Add `Secure` (HTTPS only). */
  secure: boolean
}

/**
 * The session cookie's header text: reading it from a `Cookie` header and writing `Set-Cookie`.
 *
 * hono/cookie's parser and serializer are general (any name, quoted and URI-encoded values, every
 * attribute) and cost about 2 µs of an authenticated read. This cookie is always one name, a
 * base64url value with a dot, and fixed attributes, so the attributes are built once and reading is a
 * scan for one name.
 */
const unquote = (value: string) =>
  value.length >= 2 && value.startsWith('"') && value.endsWith('"') ? value.slice(1, -1) : value

export class SessionCookie {
  readonly name: string
  readonly #attributes: string
  readonly #expired: string

  constructor({ name, maxAgeSeconds, secure }: SessionCookieOptions) {
    this.name = name
    const flags = `; Path=/; HttpOnly${secure ? '; Secure' : ''}; SameSite=Lax`
    this.#attributes = `; Max-Age=${maxAgeSeconds}${flags}`
    this.#expired = `${name}=; Max-Age=0${flags}`
  }

  /**
   * The value of the first cookie with this name in a `Cookie` header, without the double quotes RFC 6265
   * allows around a value. Not URI-decoded: a value this cookie sets never needs it.
   */
  read(header: string | undefined): string | undefined {
    if (!header?.includes(this.name)) return undefined
    for (const pair of header.split(';')) {
      const eq = pair.indexOf('=')
      if (eq > 0 && pair.slice(0, eq).trim() === this.name) return unquote(pair.slice(eq + 1).trim())
    }
    return undefined
  }

  /** A `Set-Cookie` value that stores `value` for the full Max-Age. */
  set(value: string): string {
    return `${this.name}=${value}${this.#attributes}`
  }

  /** A `Set-Cookie` value that removes the cookie from the browser. */
  expire(): string {
    return this.#expired
  }
}
