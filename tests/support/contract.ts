import { dereference } from '@readme/openapi-parser'
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js'
import type { OpenAPIV3_1 } from 'openapi-types'
import type { SseBlock } from './sse-client.js'

/**
 * The service's OpenAPI document as a test oracle: which operations there are, what a valid request
 * looks like (the document's examples), and whether a response is one the document allows: a
 * documented status, every required header, and a body that its schema accepts (ajv, JSON Schema
 * 2020-12, the dialect of OpenAPI 3.1). Event streams are checked block by block.
 */

type Schema = OpenAPIV3_1.SchemaObject
type Parameter = OpenAPIV3_1.ParameterObject & { schema?: Schema; example?: unknown }
type MediaType = OpenAPIV3_1.MediaTypeObject & { schema?: Schema; example?: unknown }
type ResponseObject = OpenAPIV3_1.ResponseObject & {
  headers?: Record<string, OpenAPIV3_1.HeaderObject & { schema?: Schema }>
  content?: Record<string, MediaType>
}

export interface Operation {
  method: string
  path: string
  /** `METHOD /path`, as the document names it. */
  name: string
  parameters: Parameter[]
  body: MediaType | undefined
  /** The alternatives of credentials; an empty requirement ({}) means none is needed. */
  security: Record<string, string[]>[]
  responses: Record<string, ResponseObject>
}

/** What a checked response held. */
export interface Checked {
  status: number
  /** The parsed JSON body, or the text; null for a stream or an empty body. */
  body: unknown
}

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const

const essence = (contentType: string) => (contentType.split(';')[0] ?? '').trim().toLowerCase()
const isJson = (mediaType: string) => /^application\/([\w.-]+\+)?json$/.test(essence(mediaType))

export class Contract {
  readonly #ajv = new Ajv2020({ allErrors: true, strict: false })
  readonly #compiled = new WeakMap<object, ValidateFunction>()

  private constructor(readonly document: OpenAPIV3_1.Document) {
    this.#ajv.addFormat(
      'date-time',
      (value: string) => /^\d{4}-\d\d-\d\dT/.test(value) && !Number.isNaN(Date.parse(value)),
    )
  }

  /** From the document as served: a copy, with every `$ref` resolved. */
  static async load(document: object): Promise<Contract> {
    return new Contract(
      (await dereference(structuredClone(document) as OpenAPIV3_1.Document)) as OpenAPIV3_1.Document,
    )
  }

  operations(): Operation[] {
    return Object.entries(this.document.paths ?? {}).flatMap(([path, item]) =>
      METHODS.filter((method) => item?.[method]).map((method) => {
        const operation = item?.[method] as OpenAPIV3_1.OperationObject
        return {
          method: method.toUpperCase(),
          path,
          name: `${method.toUpperCase()} ${path}`,
          parameters: (operation.parameters ?? []) as Parameter[],
          body: (operation.requestBody as OpenAPIV3_1.RequestBodyObject | undefined)?.content?.[
            'application/json'
          ] as MediaType | undefined,
          security: operation.security ?? this.document.security ?? [],
          responses: operation.responses as Record<string, ResponseObject>,
        }
      }),
    )
  }

  /** Every problem with `res` as a response of `operation`; the body is read (a stream only checked for its head). */
  async problems(operation: Operation, res: Response): Promise<{ problems: string[]; checked: Checked }> {
    const problems: string[] = []
    const checked: Checked = { status: res.status, body: null }
    const documented = operation.responses[String(res.status)]
    if (!documented) {
      await res.body?.cancel()
      const statuses = Object.keys(operation.responses).join(', ')
      return { problems: [`status ${res.status} is not documented (documented: ${statuses})`], checked }
    }
    for (const [name, header] of Object.entries(documented.headers ?? {})) {
      const value = res.headers.get(name)
      if (value === null) {
        if (header.required) problems.push(`required header ${name} is missing`)
      } else if (header.schema) {
        problems.push(...this.#validate(header.schema, value, `header ${name}`))
      }
    }
    const contentType = res.headers.get('content-type')
    if (!documented.content) {
      const text = await res.text()
      if (text !== '') problems.push(`a body where none is documented: ${text.slice(0, 200)}`)
      return { problems, checked }
    }
    const mediaType = Object.keys(documented.content).find(
      (type) => contentType !== null && essence(type) === essence(contentType),
    )
    if (mediaType === undefined) {
      await res.body?.cancel()
      problems.push(
        `content type ${contentType} is not documented (${Object.keys(documented.content).join(', ')})`,
      )
      return { problems, checked }
    }
    const schema = documented.content[mediaType]?.schema
    if (essence(mediaType) === 'text/event-stream') return { problems, checked }
    const text = await res.text()
    if (isJson(mediaType)) {
      try {
        checked.body = JSON.parse(text)
      } catch {
        problems.push(`the body is not JSON: ${text.slice(0, 200)}`)
        return { problems, checked }
      }
    } else {
      checked.body = text
    }
    if (schema) problems.push(...this.#validate(schema, checked.body, 'body'))
    return { problems, checked }
  }

  /** Checks `res` and throws, naming the operation and every problem, unless the document allows it. */
  async check(operation: Operation, res: Response): Promise<Checked> {
    const { problems, checked } = await this.problems(operation, res)
    if (problems.length > 0) {
      throw new Error(
        `${operation.name} answered ${res.status}, which the document does not allow:\n  ${problems.join('\n  ')}`,
      )
    }
    return checked
  }

  /**
   * Problems with one block of an event stream of `operation` (status 200): it must be one of the
   * documented blocks, and a `data` documented as JSON must be JSON that its `contentSchema` accepts.
   */
  eventProblems(operation: Operation, block: SseBlock): string[] {
    const stream = operation.responses['200']?.content?.['text/event-stream']?.schema
    const kinds = ((stream as { items?: Schema } | undefined)?.items?.anyOf ?? undefined) as
      | Schema[]
      | undefined
    if (!kinds) return ['no event schemas documented for 200 text/event-stream']
    const fields = {
      ...(block.id !== undefined && { id: block.id }),
      ...(block.event !== undefined && { event: block.event }),
      ...(block.data !== undefined && { data: block.data }),
      ...(block.retry !== undefined && { retry: Number(block.retry) }),
      ...(block.comments.length > 0 && { comment: block.comments.join('\n') }),
    }
    const matching = kinds.filter((kind) => this.#validate(kind, fields, 'block').length === 0)
    if (matching.length === 0) return [`a block no event schema accepts: ${JSON.stringify(fields)}`]
    return matching.flatMap((kind) => {
      const data = kind.properties?.data as (Schema & { contentSchema?: Schema }) | undefined
      if (data?.contentMediaType !== 'application/json' || block.data === undefined) return []
      let parsed: unknown
      try {
        parsed = JSON.parse(block.data)
      } catch {
        return [`data is not JSON: ${block.data}`]
      }
      return data.contentSchema
        ? this.#validate(data.contentSchema, parsed, `data of ${JSON.stringify(fields)}`)
        : []
    })
  }

  #validate(schema: object, value: unknown, what: string): string[] {
    let validate = this.#compiled.get(schema)
    if (!validate) {
      validate = this.#ajv.compile(schema)
      this.#compiled.set(schema, validate)
    }
    if (validate(value)) return []
    return (validate.errors ?? []).map(
      (error) => `${what}${error.instancePath} ${error.message} (${JSON.stringify(value).slice(0, 300)})`,
    )
  }
}
