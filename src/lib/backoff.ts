/**
 * The one retry schedule of the service, for Redis reconnects and the live reader's retries alike:
 * 50 ms, 100 ms, 200 ms ... capped at 1 s, so recovery takes about a second once Redis is back.
 */
export const backoffDelay = (attempt: number): number => Math.min(50 * 2 ** attempt, 1000)
