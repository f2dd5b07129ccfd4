import { type Logger, pino } from 'pino'
import type { LogLevel } from './env.js'

export type { Logger }

/**
 * Structured JSON logs on stdout. Redaction is a second line of defence: secrets are never put into
 * log objects in the first place, but a cookie or token header that reaches a log is censored.
 *
 * Writes are buffered and asynchronous: a write(2) per access-log line costs more CPU than the rest of a
 * session read. Lines go out in blocks of 4 KiB, and at least every LOG_FLUSH_MS; pino flushes what is
 * left synchronously when the process exits. Only a SIGKILL can lose the last fraction of a second.
 */
const LOG_FLUSH_MS = 250

export function createLogger(level: LogLevel): Logger {
  return pino(
    {
      level,
      base: undefined,
      redact: {
        paths: ['headers.cookie', 'headers.authorization', 'req.headers.cookie', 'req.headers.authorization'],
        censor: '[redacted]',
      },
    },
    pino.destination({ dest: 1, sync: false, minLength: 4096, periodicFlush: LOG_FLUSH_MS }),
  )
}
