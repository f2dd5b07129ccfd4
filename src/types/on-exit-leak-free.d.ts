// on-exit-leak-free ships no types. Only what src/log-destination.ts uses is declared.
declare module 'on-exit-leak-free' {
  /** Calls `fn` on process exit while `obj` is alive; holds `obj` weakly, so registering never leaks it. */
  export function register<T extends object>(obj: T, fn: (obj: T, event: 'exit') => void): void
  export function unregister(obj: object): void
}
