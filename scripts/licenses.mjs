// Writes the licenses of the production dependencies bundled into dist/ (ncc's --license keeps only
// the last chunk's when the bundle has several chunks). Sorted, so the output is reproducible.
// Usage: node scripts/licenses.mjs OUTFILE
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const found = new Map()

function packageDir(name, from) {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name)
    if (existsSync(join(candidate, 'package.json'))) return candidate
    if (dir === root || dir === dirname(dir)) return undefined
  }
}

function visit(dir) {
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'))
  for (const name of Object.keys(pkg.dependencies ?? {})) {
    const depDir = packageDir(name, dir)
    if (!depDir || found.has(depDir)) continue
    found.set(depDir, JSON.parse(readFileSync(join(depDir, 'package.json'), 'utf8')))
    visit(depDir)
  }
}

visit(root)
const entries = [...found]
  .map(([dir, pkg]) => {
    const file = readdirSync(dir).find((f) => /^(licen[cs]e|copying)(\.|$)/i.test(f))
    const text = file ? readFileSync(join(dir, file), 'utf8').trim() : ''
    return `${pkg.name}@${pkg.version}\n${typeof pkg.license === 'string' ? pkg.license : 'see license text'}\n${text}`
  })
  .sort()
writeFileSync(process.argv[2], `${entries.join('\n\n')}\n`)
