import { type Logger, pino } from 'pino'
import type { LogLevel } from '../env.js'
import { createLogDestination } from './log-destination.js'

export type { Logger }

/**
 * Structured JSON logs on stdout. Redaction is a second line of defence: secrets are never put into
 * log objects in the first place, but a cookie or token header that reaches a log is censored.
 *
 * Lines are written once per event-loop turn (see createLogDestination), not with a system call each.
 */
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
    createLogDestination(),
  )
}
