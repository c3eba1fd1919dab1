/**
 * node .build/scripts/exports.js: fails when a file of src/, sandbox/ or scripts/ exports a name
 * that no other file imports. An export nobody imports is a door to nowhere: it says "used
 * elsewhere" of something that is not, and keeps dead code looking alive.
 *
 * Read with the TypeScript compiler's parser and module resolution (the project's own settings,
 * tsconfig.test.json), every .ts file of src/, sandbox/, scripts/ and test/:
 * - an export is a declaration with `export` (each name of an `export const { a, b }` too), an
 *   `export { a, b as c }` list, `export default`, or `export * as ns from`;
 * - a use is a named or default import (type-only ones too), a namespace import's `ns.name`, an
 *   `export { a } from` re-export, an `import('./x.js').Name` type, and a dynamic `import()` (which
 *   counts as a use of all its module's exports). `export * from` passes a use on to the module it
 *   re-exports. Tests are users: a name exported for a test is used.
 * - entry points are not checked: src/index.ts, src/rescue/cli.ts, src/main.ts (local-action
 *   imports its `run`), and the programs of scripts/ and sandbox/: a file that no file imports (it
 *   is run, never imported), or one that runs itself when started
 *   (`if (process.argv[1] === fileURLToPath(import.meta.url))`, like sandbox/selftest.ts).
 *
 * Prints each unused export as `file:line name` and exits 1; else one line.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const CHECKED = ['src', 'sandbox', 'scripts']
const USERS = [...CHECKED, 'test']
const ENTRY_POINTS = new Set(['src/index.ts', 'src/rescue/cli.ts', 'src/main.ts'])
/** The condition of a module that runs itself when started as a program. */
const PROGRAM_GUARD = 'process.argv[1]===fileURLToPath(import.meta.url)'
/** Every export of a module, as a use of it. */
const ALL = '*'

interface Module {
  file: string
  /** Exported name → the line it is declared on. */
  exports: Map<string, number>
  /** The modules of its `export * from` (their names are its names too). */
  stars: string[]
  /** The names of other modules this one uses: module → names (or ALL). */
  uses: Map<string, Set<string>>
  /** It runs itself when started: `if (process.argv[1] === fileURLToPath(import.meta.url))`. */
  program: boolean
}

function files(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? files(join(dir, entry.name))
      : entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')
        ? [join(dir, entry.name)]
        : []
  )
}

function compilerOptions(): ts.CompilerOptions {
  const path = join(ROOT, 'tsconfig.test.json')
  const { config, error } = ts.readConfigFile(path, ts.sys.readFile)
  if (error) throw new Error(ts.flattenDiagnosticMessageText(error.messageText, '\n'))
  return ts.parseJsonConfigFileContent(config, ts.sys, ROOT, undefined, path).options
}

/** Parses `file` (a project path) and lists what it exports and what it uses of other modules. */
function readModule(file: string, options: ts.CompilerOptions): Module {
  const source = ts.createSourceFile(file, readFileSync(join(ROOT, file), 'utf8'), ts.ScriptTarget.Latest, true)
  const module: Module = { file, exports: new Map(), stars: [], uses: new Map(), program: false }
  const lineOf = (node: ts.Node): number => source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1
  const exported = (name: string, node: ts.Node): void => {
    if (!module.exports.has(name)) module.exports.set(name, lineOf(node))
  }
  /** The project file a module specifier names, or undefined for a package or node: module. */
  const resolve = (specifier: ts.Node | undefined): string | undefined => {
    if (!specifier || !ts.isStringLiteralLike(specifier)) return undefined
    const resolved = ts.resolveModuleName(specifier.text, join(ROOT, file), options, ts.sys).resolvedModule
    if (!resolved || resolved.isExternalLibraryImport) return undefined
    const path = relative(ROOT, resolved.resolvedFileName)
    return path.startsWith('..') ? undefined : path
  }
  const use = (target: string | undefined, name: string): void => {
    if (target === undefined) return
    const names = module.uses.get(target) ?? new Set<string>()
    names.add(name)
    module.uses.set(target, names)
  }
  const hasModifier = (node: ts.Node, kind: ts.SyntaxKind): boolean =>
    ts.canHaveModifiers(node) && (ts.getModifiers(node) ?? []).some((modifier) => modifier.kind === kind)
  const bindingNames = (name: ts.BindingName): ts.Identifier[] =>
    ts.isIdentifier(name) ? [name] : name.elements.flatMap((element) => (ts.isOmittedExpression(element) ? [] : bindingNames(element.name)))

  /** Namespace imports (`import * as ns`): their names, and the module they stand for. */
  const namespaces = new Map<string, string>()

  for (const statement of source.statements) {
    if (ts.isIfStatement(statement) && statement.expression.getText(source).replace(/\s/g, '') === PROGRAM_GUARD) {
      module.program = true
    } else if (ts.isImportDeclaration(statement)) {
      const target = resolve(statement.moduleSpecifier)
      const clause = statement.importClause
      if (!clause) continue // `import './x.js'`: run for its effects, no name used.
      if (clause.name) use(target, 'default')
      const bindings = clause.namedBindings
      if (bindings && ts.isNamedImports(bindings))
        for (const element of bindings.elements) use(target, (element.propertyName ?? element.name).text)
      if (bindings && ts.isNamespaceImport(bindings) && target !== undefined) namespaces.set(bindings.name.text, target)
    } else if (ts.isExportDeclaration(statement)) {
      const target = resolve(statement.moduleSpecifier)
      const clause = statement.exportClause
      if (!clause) {
        if (target !== undefined) module.stars.push(target)
      } else if (ts.isNamespaceExport(clause)) {
        exported(clause.name.text, clause)
        use(target, ALL)
      } else {
        for (const element of clause.elements) {
          exported(element.name.text, element)
          if (statement.moduleSpecifier) use(target, (element.propertyName ?? element.name).text)
        }
      }
    } else if (ts.isExportAssignment(statement)) {
      exported('default', statement)
    } else if (hasModifier(statement, ts.SyntaxKind.ExportKeyword)) {
      if (hasModifier(statement, ts.SyntaxKind.DefaultKeyword)) exported('default', statement)
      else if (ts.isVariableStatement(statement))
        for (const declaration of statement.declarationList.declarations)
          for (const id of bindingNames(declaration.name)) exported(id.text, id)
      else {
        const name = (statement as ts.DeclarationStatement).name
        if (name && ts.isIdentifier(name)) exported(name.text, name)
      }
    }
  }

  const isMemberName = (node: ts.Identifier): boolean =>
    (ts.isPropertyAccessExpression(node.parent) || ts.isQualifiedName(node.parent)) &&
    (ts.isPropertyAccessExpression(node.parent) ? node.parent.name : node.parent.right) === node

  // Uses inside the code: `import('./x.js')` types and calls, and namespace imports' members.
  const visit = (node: ts.Node): void => {
    if (ts.isImportTypeNode(node)) {
      const argument = node.argument
      const target = ts.isLiteralTypeNode(argument) ? resolve(argument.literal) : undefined
      let qualifier = node.qualifier
      while (qualifier && ts.isQualifiedName(qualifier)) qualifier = qualifier.left
      use(target, qualifier ? qualifier.text : ALL)
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      use(resolve(node.arguments[0]), ALL)
    } else if (ts.isIdentifier(node) && namespaces.has(node.text) && !ts.isNamespaceImport(node.parent) && !isMemberName(node)) {
      const target = namespaces.get(node.text)
      const parent = node.parent
      if (ts.isPropertyAccessExpression(parent) && parent.expression === node) use(target, parent.name.text)
      else if (ts.isQualifiedName(parent) && parent.left === node) use(target, parent.right.text)
      else use(target, ALL) // The namespace itself is passed on: any of its names may be used.
    }
    ts.forEachChild(node, visit)
  }
  visit(source)
  return module
}

/** The unused exports of the checked modules, as `file:line name`, in file order. */
function unusedExports(): string[] {
  const options = compilerOptions()
  const modules = new Map(USERS.flatMap(files).map((file) => [file, readModule(file, options)]))
  const used = new Map<string, Set<string>>()
  const imported = new Set<string>()

  /** Marks `name` of `file` used; a name it does not declare comes from its `export * from`. */
  const markUsed = (file: string, name: string, seen = new Set<string>()): void => {
    const module = modules.get(file)
    if (!module || seen.has(`${file}#${name}`)) return
    seen.add(`${file}#${name}`)
    const names = used.get(file) ?? new Set<string>()
    names.add(name)
    used.set(file, names)
    if (name === ALL || !module.exports.has(name)) for (const star of module.stars) markUsed(star, name, seen)
  }

  for (const module of modules.values()) {
    for (const star of module.stars) imported.add(star)
    for (const [target, names] of module.uses) {
      if (target === module.file) continue // A module's use of itself is no use by another file.
      imported.add(target)
      for (const name of names) markUsed(target, name)
    }
  }

  const report: string[] = []
  for (const module of modules.values()) {
    const file = module.file.split('\\').join('/')
    if (!CHECKED.some((dir) => file.startsWith(`${dir}/`)) || ENTRY_POINTS.has(file)) continue
    // A program of scripts/ or sandbox/ is an entry point.
    if (!file.startsWith('src/') && (module.program || !imported.has(module.file))) continue
    const names = used.get(module.file) ?? new Set<string>()
    if (names.has(ALL)) continue
    for (const [name, line] of module.exports) if (!names.has(name)) report.push(`${file}:${line} ${name}`)
  }
  return report
}

const unused = unusedExports()
for (const line of unused) console.error(`unused export: ${line}`)
if (unused.length > 0) {
  console.error(`exports: ${unused.length} export(s) that no other file imports; remove the export, or the name if nothing uses it`)
  process.exitCode = 1
} else {
  console.log(`exports: every export of ${CHECKED.join('/, ')}/ is imported by another file`)
}
