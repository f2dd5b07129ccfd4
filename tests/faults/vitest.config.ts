import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'

/**
 * The fault suites (`npm run test:faults`, run by .ci/run after `npm test`): real redis-server, HAProxy and
 * service processes, faults injected under load, on loopback only. Their files end in `.fault.ts`, so
 * `npm test` never picks them up. One file at a time: each loads both cores, and its timing bounds (503
 * within the command timeout plus 500 ms, readiness within 2 s) are about the service, not the scheduler.
 */
export default defineConfig({
  root: fileURLToPath(new URL('../..', import.meta.url)),
  test: {
    include: ['tests/faults/**/*.fault.ts'],
    // Builds dist/ (the suites spawn `node dist/main.js`, as the image runs it).
    globalSetup: ['tests/support/global-setup.ts'],
    fileParallelism: false,
    maxWorkers: 1,
    // Each suite bounds its own load; these bound a suite that hangs anyway.
    testTimeout: 120_000,
    hookTimeout: 30_000,
  },
})
