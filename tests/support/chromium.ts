/** Debian's Chromium, driven by playwright-core: never a downloaded browser (.ci/run installs it). */
export const CHROMIUM = '/usr/bin/chromium'

/** Headless, sandbox-free (CI runs as root), and quiet: no background traffic leaves loopback. */
export const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
]
