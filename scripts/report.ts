/**
 * Writes measured figures into the documents: the text between `<!-- NAME:start -->` and
 * `<!-- NAME:end -->` in a Markdown file is replaced, the rest left as it is. Used by
 * `npm run bench` and `npm run soak` for docs/performance.md, so that the figures there are the
 * last ones measured and say when and where.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { join } from 'node:path'
import { format, resolveConfig } from 'prettier'
import { PROJECT_ROOT } from '../sandbox/runner/runner.js'

export const PERFORMANCE_DOC = join(PROJECT_ROOT, 'docs', 'performance.md')

/** "2026-11-27, Node v24.21.0, 2 cores (AMD EPYC …)": what a figure was measured on. */
export function measuredOn(): string {
  const cpu = cpus()
  return `${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ${cpu.length} cores (${cpu[0]?.model.trim() ?? 'unknown CPU'})`
}

export async function writeSection(file: string, name: string, markdown: string): Promise<void> {
  const text = readFileSync(file, 'utf8')
  const start = `<!-- ${name}:start -->`
  const end = `<!-- ${name}:end -->`
  const from = text.indexOf(start)
  const to = text.indexOf(end)
  if (from < 0 || to < from) throw new Error(`${file} has no ${start} … ${end} markers`)
  const next = `${text.slice(0, from + start.length)}\n\n${markdown.trim()}\n\n${text.slice(to)}`
  const options = (await resolveConfig(file)) ?? {}
  writeFileSync(file, await format(next, { ...options, filepath: file }))
}
