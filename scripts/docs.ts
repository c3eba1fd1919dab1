/**
 * The documents' drift check.
 *
 * - The README's inputs and outputs tables are generated from action.yml, so the two never
 *   disagree; README.ru.md gets the same tables with Russian descriptions (docs/action.ru.json).
 * - Sections: in the READMEs and in docs/troubleshooting, docs/providers, docs/security,
 *   docs/concurrency, docs/targets, docs/migration and docs/runners (each in English and Russian),
 *   each `## ` heading is preceded by `<!-- section: ID -->`, and the two languages of a pair list the
 *   same IDs in the same order.
 * - Links: every relative link of the READMEs, docs/*.md and test/README.md reaches a file that
 *   exists, and its `#anchor` a heading of that file (GitHub's slugs).
 * - Pins: every `uses:` of another action in examples/*.yml and in the documents' code blocks is
 *   pinned to a full commit SHA with its version in a comment (`@<sha> # v1.2.3`); this action
 *   itself is written `amocrm-actions/token-rotation@v1` (no release SHA to show) or `@<full commit
 *   SHA>` as a placeholder.
 * - Messages: the troubleshooting tables (docs/troubleshooting.md and .ru.md) must have a row for
 *   every message the action produces: each row quotes a message in backticks, its varying parts as
 *   "…"; with --messages FILE (the `Error:` / `Warning:` lines the test runs showed, collected by
 *   sandbox/runner/runner.ts), every one must match a row.
 *
 *   node .build/scripts/docs.js --write             regenerate the tables in place
 *   node .build/scripts/docs.js                     check: exit 1 on any drift
 *   node .build/scripts/docs.js --messages FILE     also: every message in FILE has its row
 */
import { DOCUMENTED } from '../src/messages.js'
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { dirname, join, normalize } from 'node:path'
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
/** The documents that exist in both languages: the same section ids, in the same order. */
const PAIRS: Array<[string, string]> = [
  ['README.md', 'README.ru.md'],
  ['docs/troubleshooting.md', 'docs/troubleshooting.ru.md'],
  ['docs/providers.md', 'docs/providers.ru.md'],
  ['docs/security.md', 'docs/security.ru.md'],
  ['docs/concurrency.md', 'docs/concurrency.ru.md'],
  ['docs/targets.md', 'docs/targets.ru.md'],
  ['docs/migration.md', 'docs/migration.ru.md'],
  ['docs/runners.md', 'docs/runners.ru.md']
]
for (const [en, ru] of PAIRS) {
  for (const file of [en, ru]) {
    if (ids[file]) continue
    if (existsSync(join(root, file))) ids[file] = sections(read(file), file, problems)
    else problems.push(`${file}: missing (the ${file.endsWith('.ru.md') ? 'Russian' : 'English'} twin of ${file === en ? ru : en})`)
  }
  if (ids[en] && ids[ru] && JSON.stringify(ids[en]) !== JSON.stringify(ids[ru])) {
    problems.push(`${en} and ${ru} have different sections:\n  en: ${ids[en]?.join(', ')}\n  ru: ${ids[ru]?.join(', ')}`)
  }
}

/** GitHub's heading anchor: lower case, punctuation dropped (letters of any script kept), spaces to '-'. */
function slug(heading: string): string {
  const text = heading
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/<[^>]+>/g, '')
    .trim()
    .toLowerCase()
  return text.replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '').replace(/ /g, '-')
}

/** The anchors a markdown file offers: its headings' slugs (a repeated one gets -1, -2, …). */
function anchors(markdown: string): Set<string> {
  const found = new Set<string>()
  const counts = new Map<string, number>()
  let fenced = false
  for (const line of markdown.split('\n')) {
    if (/^\s*```/.test(line)) fenced = !fenced
    const heading = fenced ? null : /^#{1,6} +(.*?)\s*#*\s*$/.exec(line)
    if (!heading?.[1]) continue
    const base = slug(heading[1])
    const n = counts.get(base) ?? 0
    counts.set(base, n + 1)
    found.add(n === 0 ? base : `${base}-${n}`)
  }
  return found
}

/** Relative links (`[text](target)`) outside code: each file must exist, each #anchor be a heading there. */
function checkLinks(file: string, problems: string[]): void {
  const text = read(file)
    .replace(/^\s*```[\s\S]*?^\s*```/gm, '')
    .replace(/`[^`\n]*`/g, '')
  for (const match of text.matchAll(/\]\(([^)\s]+)\)/g)) {
    const target = match[1] ?? ''
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue
    const [path = '', anchor] = target.split('#')
    const resolved = path ? normalize(join(dirname(file), decodeURIComponent(path))) : file
    const full = join(root, resolved)
    if (!existsSync(full)) {
      problems.push(`${file}: link to ${target}: ${resolved} does not exist`)
      continue
    }
    if (anchor === undefined || statSync(full).isDirectory()) continue
    if (!resolved.endsWith('.md')) continue
    if (!anchors(read(resolved)).has(decodeURIComponent(anchor))) problems.push(`${file}: link to ${target}: no heading with that anchor`)
  }
}
const linked = [
  'README.md',
  'README.ru.md',
  'test/README.md',
  ...readdirSync(join(root, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`)
]
for (const file of linked) checkLinks(file, problems)

/**
 * `uses:` lines of workflows and of the documents' YAML: another action is pinned to a full commit
 * SHA with its version in a comment; this action is written by its major tag or with a placeholder.
 */
function pinProblems(text: string): string[] {
  const found: string[] = []
  for (const match of text.matchAll(/uses:\s*([^\s#]+)(?:[ \t]+#[ \t]*(\S+))?/g)) {
    const [, ref = '', comment] = match
    if (ref.startsWith('./') || ref.startsWith('docker://')) continue
    if (ref.startsWith('amocrm-actions/token-rotation@')) {
      if (ref !== 'amocrm-actions/token-rotation@v1' && ref !== 'amocrm-actions/token-rotation@<full') {
        found.push(`${ref}: write this action as amocrm-actions/token-rotation@v1 (or @<full commit SHA> # vX.Y.Z)`)
      }
      continue
    }
    if (!/@[0-9a-f]{40}$/.test(ref) || !comment || !/^v\d+(\.\d+)*$/.test(comment)) {
      found.push(`${ref}${comment ? ` # ${comment}` : ''}: pin it to a full commit SHA with its version in a comment (@<sha> # vX.Y.Z)`)
    }
  }
  return found
}
const pinned = [
  ...readdirSync(join(root, 'examples'))
    .filter((f) => /\.ya?ml$/.test(f))
    .map((f) => ({ file: `examples/${f}`, text: read(`examples/${f}`) })),
  ...linked.map((file) => ({
    file,
    text: [...read(file).matchAll(/^\s*```ya?ml\n([\s\S]*?)^\s*```$/gm)].map((m) => m[1] ?? '').join('\n')
  }))
]
for (const { file, text } of pinned) for (const problem of pinProblems(text)) problems.push(`${file}: ${problem}`)
/** The quotes of a troubleshooting table: each row's backticked messages, as fragments around "…". */
function rowQuotes(markdown: string): string[][] {
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
function matches(message: string, fragments: string[]): boolean {
  const text = message.replace(/\u200b/g, '').replace(/\s+/g, ' ')
  let at = 0
  for (const fragment of fragments) {
    const found = text.indexOf(fragment, at)
    if (found < 0) return false
    at = found + fragment.length
  }
  return true
}

// Every failure and warning of messages.ts has its row in both tables, whether or not a test made
// the action print it: the row's first cell holds the quote DOCUMENTED gives for its key.
for (const name of ['docs/troubleshooting.md', 'docs/troubleshooting.ru.md'].filter((f) => existsSync(join(root, f)))) {
  const firstCells = read(name)
    .split('\n')
    .filter((line) => line.startsWith('|'))
    .map((line) => (line.split(/(?<!\\)\|/)[1] ?? '').replace(/\s+/g, ' ').trim())
  for (const [key, quote] of Object.entries(DOCUMENTED)) {
    if (!firstCells.some((cell) => cell.includes(quote)))
      problems.push(`${name}: no row for the message '${key}' (its row begins ${quote})`)
  }
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
  for (const name of ['docs/troubleshooting.md', 'docs/troubleshooting.ru.md'].filter((f) => existsSync(join(root, f)))) {
    const quotes = rowQuotes(read(name))
    for (const message of seen) {
      if (!quotes.some((fragments) => matches(message, fragments))) {
        problems.push(`${name}: no row quotes this message the action produced: ${message.slice(0, 300)}`)
      }
    }
  }
  console.log(`docs: ${seen.length} distinct messages from the test runs checked against the troubleshooting tables`)
}

for (const problem of problems) console.error(problem)
console.log(
  `docs: ${Object.keys(action.inputs).length} inputs, ${Object.keys(action.outputs).length} outputs, ${PAIRS.length} pairs of documents (${PAIRS.map(([en]) => ids[en]?.length ?? 0).join(', ')} sections), ${linked.length} documents' links, ${pinned.length} files' pins; ${problems.length ? `${problems.length} problem(s)` : 'in sync'}`
)
process.exitCode = problems.length ? 1 : 0
