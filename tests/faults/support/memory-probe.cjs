// Preloaded into the service by memory suites (NODE_OPTIONS="--expose-gc --require=<this file>"): on
// SIGUSR2 it runs full garbage collections (letting finalizers run in between) and appends the process's memory figures as one JSON line
// to MEMORY_PROBE_FILE. Heap in use after a full GC is what a leak grows; RSS alone also carries heap that
// V8 has not given back. When `${MEMORY_PROBE_FILE}.snapshot` names a path, it also writes a heap snapshot
// there (for Chrome DevTools' comparison view) and removes the request. The service itself never sees any
// of this: nothing else listens to SIGUSR2.
const { appendFileSync, readFileSync, rmSync } = require('node:fs')
const { writeHeapSnapshot } = require('node:v8')

process.on('SIGUSR2', async () => {
  globalThis.gc?.()
  // FinalizationRegistry callbacks run as tasks after a GC, and until they have run, their held values
  // (undici keeps one per Request made with a signal, for example) are still reachable: let them run, then
  // collect again, so that what is measured is what the process really retains.
  await new Promise((resolve) => setTimeout(resolve, 100))
  globalThis.gc?.()
  await new Promise((resolve) => setTimeout(resolve, 100))
  globalThis.gc?.()
  const file = process.env.MEMORY_PROBE_FILE
  let snapshot
  try {
    snapshot = readFileSync(`${file}.snapshot`, 'utf8').trim()
    rmSync(`${file}.snapshot`)
  } catch {}
  if (snapshot) writeHeapSnapshot(snapshot)
  const { rss, heapUsed, heapTotal, external, arrayBuffers } = process.memoryUsage()
  appendFileSync(
    file,
    `${JSON.stringify({ rss, heapUsed, heapTotal, external, arrayBuffers, at: Date.now() })}\n`,
  )
})
