import { type Logger, pino } from 'pino'
import type { LogLevel } from './env.js'

export type { Logger }

/**
 * Structured JSON logs on stdout. Redaction is a second line of defence: secrets are never put into
 * log objects in the first place, but a cookie or token header that reaches a log is censored.
 *
 * Writes are asynchronous: a synchronous write(2) per access-log line costs more than the rest of a
 * session read. Lines written while a write is in flight go out together; pino flushes what is left
 * synchronously when the process exits.
 */
export function createLogger(level: LogLevel): Logger {
  return pino(
    {
      level,
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: {
        paths: ['headers.cookie', 'headers.authorization', 'req.headers.cookie', 'req.headers.authorization'],
        censor: '[redacted]',
      },
    },
    pino.destination({ dest: 1, sync: false }),
  )
}
