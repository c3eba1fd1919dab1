/**
 * The README's inputs and outputs tables are generated from action.yml, so the two never disagree;
 * README.ru.md gets the same tables with Russian descriptions (docs/action.ru.json). Both READMEs
 * must also have the same sections: each `## ` heading is preceded by `<!-- section: ID -->`, and
 * the two files must list the same IDs in the same order.
 *
 * The troubleshooting tables (docs/troubleshooting.md and .ru.md, or the READMEs' troubleshooting
 * sections while those do not exist) must have a row for every message the action produces: each
 * row quotes a message in backticks, its varying parts as "…"; with --messages FILE (the `Error:` /
 * `Warning:` lines the test runs showed, collected by sandbox/runner.ts), every one must match a row.
 *
 *   node .build/scripts/docs.js --write             regenerate the tables in place
 *   node .build/scripts/docs.js                     check: exit 1 on any drift
 *   node .build/scripts/docs.js --messages FILE     also: every message in FILE has its row
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { format, resolveConfig } from 'prettier'
import { parse } from 'yaml'

const root = new URL('../../', import.meta.url).pathname
const read = (file: string): string => readFileSync(join(root, file), 'utf8')

interface Entry {
  description?: string
  required?: boolean
  default?: string
}
const action = parse(read('action.yml')) as { inputs: Record<string, Entry>; outputs: Record<string, Entry> }
const russian = JSON.parse(read('docs/action.ru.json')) as { inputs: Record<string, string>; outputs: Record<string, string> }

const oneLine = (text: string): string => text.replace(/\s+/g, ' ').trim().replace(/\|/g, '\\|')
const code = (text: string): string => (text === '' ? '`""`' : `\`${text}\``)

function inputsTable(lang: 'en' | 'ru'): string {
  const head =
    lang === 'en'
      ? ['| Input | Required | Default | Description |', '| --- | --- | --- | --- |']
      : ['| Вход | Обязателен | По умолчанию | Описание |', '| --- | --- | --- | --- |']
  const rows = Object.entries(action.inputs).map(([name, input]) => {
    const description = lang === 'en' ? (input.description ?? '') : (russian.inputs[name] ?? '')
    const required = input.required ? (lang === 'en' ? 'yes' : 'да') : lang === 'en' ? 'no' : 'нет'
    return `| \`${name}\` | ${required} | ${input.required ? '' : code(String(input.default ?? ''))} | ${oneLine(description)} |`
  })
  return [...head, ...rows].join('\n')
}

function outputsTable(lang: 'en' | 'ru'): string {
  const head = lang === 'en' ? ['| Output | Description |', '| --- | --- |'] : ['| Выход | Описание |', '| --- | --- |']
  const rows = Object.entries(action.outputs).map(([name, output]) => {
    const description = lang === 'en' ? (output.description ?? '') : (russian.outputs[name] ?? '')
    return `| \`${name}\` | ${oneLine(description)} |`
  })
  return [...head, ...rows].join('\n')
}

function fill(text: string, marker: string, table: string): string {
  const pattern = new RegExp(`(<!-- ${marker}:start -->\\n)[\\s\\S]*?(<!-- ${marker}:end -->)`)
  if (!pattern.test(text)) throw new Error(`missing <!-- ${marker}:start --> … <!-- ${marker}:end --> markers`)
  return text.replace(pattern, `$1${table}\n$2`)
}

function sections(text: string, file: string, problems: string[]): string[] {
  const ids: string[] = []
  const lines = text.split('\n')
  // The nearest non-blank line before/after line i (Prettier puts a blank line after a comment).
  const near = (i: number, step: 1 | -1): string => {
    for (let j = i + step; j >= 0 && j < lines.length; j += step) if (lines[j]?.trim()) return lines[j] ?? ''
    return ''
  }
  lines.forEach((line, i) => {
    const marker = /^<!-- section: ([a-z0-9-]+) -->$/.exec(line)
    if (marker?.[1]) {
      ids.push(marker[1])
      if (!near(i, 1).startsWith('## ')) problems.push(`${file}:${i + 1}: section marker '${marker[1]}' is not followed by a '## ' heading`)
    } else if (line.startsWith('## ') && !near(i, -1).startsWith('<!-- section: ')) {
      problems.push(`${file}:${i + 1}: heading '${line}' has no <!-- section: ID --> marker before it`)
    }
  })
  return ids
}

const write = process.argv.includes('--write')
const problems: string[] = []
for (const name of Object.keys(action.inputs))
  if (!russian.inputs[name]) problems.push(`docs/action.ru.json: no Russian description of input '${name}'`)
for (const name of Object.keys(action.outputs))
  if (!russian.outputs[name]) problems.push(`docs/action.ru.json: no Russian description of output '${name}'`)
for (const name of Object.keys(russian.inputs))
  if (!action.inputs[name]) problems.push(`docs/action.ru.json: input '${name}' is not in action.yml`)
for (const name of Object.keys(russian.outputs))
  if (!action.outputs[name]) problems.push(`docs/action.ru.json: output '${name}' is not in action.yml`)

const files = { 'README.md': 'en', 'README.ru.md': 'ru' } as const
const ids: Record<string, string[]> = {}
for (const [file, lang] of Object.entries(files)) {
  const text = read(file)
  // Formatted as Prettier would, so that `prettier --check` and this check agree.
  const generated = await format(fill(fill(text, 'inputs', inputsTable(lang)), 'outputs', outputsTable(lang)), {
    ...(await resolveConfig(join(root, file))),
    filepath: join(root, file)
  })
  if (generated !== text) {
    if (write) writeFileSync(join(root, file), generated)
    else problems.push(`${file}: the inputs/outputs tables differ from action.yml (run: npm run docs)`)
  }
  ids[file] = sections(generated, file, problems)
}
if (JSON.stringify(ids['README.md']) !== JSON.stringify(ids['README.ru.md'])) {
  problems.push(
    `README.md and README.ru.md have different sections:\n  en: ${ids['README.md']?.join(', ')}\n  ru: ${ids['README.ru.md']?.join(', ')}`
  )
}
/** The quotes of a troubleshooting table: each row's backticked messages, as fragments around "…". */
export function rowQuotes(markdown: string): string[][] {
  const quotes: string[][] = []
  for (const line of markdown.split('\n')) {
    if (!line.startsWith('|')) continue
    const first = line.split(/(?<!\\)\|/)[1] ?? ''
    for (const match of first.matchAll(/`([^`]+)`/g)) {
      const fragments = (match[1] ?? '')
        .replace(/\\\|/g, '|')
        .split('…')
        .map((f) => f.replace(/\s+/g, ' ').trim())
        .filter(Boolean)
      if (fragments.length > 0) quotes.push(fragments)
    }
  }
  return quotes
}

/** True when every fragment stands in the message, in order. */
export function matches(message: string, fragments: string[]): boolean {
  const text = message.replace(/\u200b/g, '').replace(/\s+/g, ' ')
  let at = 0
  for (const fragment of fragments) {
    const found = text.indexOf(fragment, at)
    if (found < 0) return false
    at = found + fragment.length
  }
  return true
}

function troubleshooting(file: string, readme: string): { name: string; text: string } {
  if (existsSync(join(root, file))) return { name: file, text: read(file) }
  const text = read(readme)
  const from = text.indexOf('<!-- section: troubleshooting -->')
  const to = text.indexOf('<!-- section:', from + 10)
  return { name: `${readme} (troubleshooting)`, text: from < 0 ? '' : text.slice(from, to < 0 ? undefined : to) }
}

const messagesArg = process.argv.indexOf('--messages')
if (messagesArg >= 0) {
  const file = process.argv[messagesArg + 1] ?? ''
  const seen = existsSync(file)
    ? [
        ...new Set(
          readFileSync(file, 'utf8')
            .split('\n')
            .filter(Boolean)
            .map((line) => JSON.parse(line) as { kind: string; text: string })
            // Failures; the warnings of a run that went on are explained where they are printed.
            .filter((m) => m.kind === 'error')
            .map((m) => m.text)
        )
      ]
    : []
  if (seen.length === 0) problems.push(`${file}: no messages were collected; run the tests with ACTION_MESSAGES_LOG set`)
  for (const doc of [
    troubleshooting('docs/troubleshooting.md', 'README.md'),
    troubleshooting('docs/troubleshooting.ru.md', 'README.ru.md')
  ]) {
    const quotes = rowQuotes(doc.text)
    for (const message of seen) {
      if (!quotes.some((fragments) => matches(message, fragments))) {
        problems.push(`${doc.name}: no row quotes this message the action produced: ${message.slice(0, 300)}`)
      }
    }
  }
  console.log(`docs: ${seen.length} distinct messages from the test runs checked against the troubleshooting tables`)
}

for (const problem of problems) console.error(problem)
console.log(
  `docs: ${Object.keys(action.inputs).length} inputs, ${Object.keys(action.outputs).length} outputs, ${ids['README.md']?.length ?? 0} sections; ${problems.length ? `${problems.length} problem(s)` : 'in sync'}`
)
process.exitCode = problems.length ? 1 : 0
