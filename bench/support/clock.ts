/**
 * Milliseconds on the monotonic clock (`process.hrtime`), which every process on the machine shares: the
 * producer stamps items with it and the client processes read it on receipt. `performance.timeOrigin`
 * differs between processes by up to hundreds of ms on a virtual machine, so it cannot be used across them.
 */
export const monotonicMs = (): number => Number(process.hrtime.bigint()) / 1e6
