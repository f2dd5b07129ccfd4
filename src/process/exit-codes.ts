/**
 * How the process ends (sysexits.h where one fits): 0 clean shutdown, 1 failure or forced/late
 * shutdown, 69 (EX_UNAVAILABLE) Redis unreachable at startup, 78 (EX_CONFIG) invalid configuration.
 */
export const EXIT_CODES = { ok: 0, failure: 1, unavailable: 69, config: 78 } as const
