/** The action's entry point (bundled into dist/index.js). */
import { setFailed } from '@actions/core'
import { errorMessage } from './errors.js'
import { run } from './main.js'
import { messages } from './messages.js'

const crash = (error: unknown): void => {
  setFailed(messages.bug(errorMessage(error), false))
  process.exitCode = 1
}
process.on('uncaughtException', crash)
process.on('unhandledRejection', crash)

await run()
