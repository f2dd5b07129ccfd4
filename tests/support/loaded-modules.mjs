import { writeFileSync } from 'node:fs'
import { Session } from 'node:inspector'

/**
 * Preloaded into a spawned service (`NODE_OPTIONS=--import <this file>`): when the process exits, writes
 * the file of every script V8 compiled (ES modules and CommonJS alike, one URL or path a line) to
 * LOADED_MODULES_FILE. Plain JavaScript, because Node loads it before anything could compile TypeScript.
 */
const scripts = new Set()
const session = new Session()
session.connect()
session.on('Debugger.scriptParsed', ({ params }) => {
  if (params.url) scripts.add(params.url)
})
session.post('Debugger.enable')
process.on('exit', () => writeFileSync(process.env.LOADED_MODULES_FILE, [...scripts].join('\n')))
