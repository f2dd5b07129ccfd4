import { ServiceError } from '../../src/lib/errors.js'

/** The ServiceError an attempt was refused with, or null when it was allowed; anything else rethrown. */
export async function refusal(attempt: Promise<unknown>): Promise<ServiceError | null> {
  try {
    await attempt
    return null
  } catch (error) {
    if (error instanceof ServiceError) return error
    throw error
  }
}
