/**
 * node .build/scripts/cycles.js: fails when the import graph of src/ or sandbox/ has a circle.
 * Every relative import counts, type-only ones too: a circle of types is still two rooms that each
 * need the other. Prints each circle found (the files in order) and exits 1; else one line.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, normalize, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))

function files(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? files(join(dir, entry.name)) : entry.name.endsWith('.ts') ? [join(dir, entry.name)] : []
  )
}

const IMPORT = /(?:^|\n)\s*(?:import|export)\b[^'"]*?from\s*['"](\.{1,2}\/[^'"]+)['"]|\bimport\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g

/** The relative imports of `file`, as project paths of .ts files. */
function importsOf(file: string, text: string): string[] {
  const found = new Set<string>()
  for (const m of text.matchAll(IMPORT)) {
    const spec = m[1] ?? m[2]
    if (spec) found.add(normalize(join(dirname(file), spec)).replace(/\.js$/, '.ts'))
  }
  return [...found]
}

/** Every elementary circle's smallest representative, found by a depth-first search from each file. */
function cycles(graph: Map<string, string[]>): string[][] {
  const found = new Map<string, string[]>()
  const state = new Map<string, 'open' | 'done'>()
  const stack: string[] = []
  const visit = (file: string): void => {
    state.set(file, 'open')
    stack.push(file)
    for (const next of graph.get(file) ?? []) {
      if (!graph.has(next)) continue
      if (state.get(next) === 'open') {
        const circle = stack.slice(stack.indexOf(next))
        // One key per circle, whichever file it was entered by.
        const start = circle.indexOf([...circle].sort()[0] ?? '')
        const canonical = [...circle.slice(start), ...circle.slice(0, start)]
        found.set(canonical.join(' → '), canonical)
      } else if (!state.has(next)) visit(next)
    }
    stack.pop()
    state.set(file, 'done')
  }
  for (const file of [...graph.keys()].sort()) if (!state.has(file)) visit(file)
  return [...found.values()]
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const all = [...files('src'), ...files('sandbox')]
  const graph = new Map(all.map((file) => [file, importsOf(file, readFileSync(join(ROOT, file), 'utf8'))]))
  const found = cycles(graph)
  for (const circle of found) console.error(`import circle: ${[...circle, circle[0] ?? ''].map((f) => relative('.', f)).join(' → ')}`)
  if (found.length > 0) {
    console.error(`cycles: ${found.length} import circle(s) in src/ and sandbox/`)
    process.exitCode = 1
  } else {
    console.log(`cycles: ${all.length} files of src/ and sandbox/, no import circle`)
  }
}
