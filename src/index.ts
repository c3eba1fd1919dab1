/** The action's entry point (bundled into dist/index.js). */
import { setFailed } from '@actions/core'
import { errorMessage } from './errors.js'
import { run } from './main.js'

const crash = (error: unknown): void => {
  setFailed(`Unexpected error: ${errorMessage(error)}. This is a bug of the action; please report it with this log.`)
  process.exitCode = 1
}
process.on('uncaughtException', crash)
process.on('unhandledRejection', crash)

await run()
