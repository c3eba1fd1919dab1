/**
 * The action's inputs as the runner gives them: `INPUT_<NAME>` variables (spaces → '_',
 * upper-cased, dashes kept), with the `default:` values of action.yml (read with the `yaml`
 * package) for the inputs not given; `${{ github.token }}` in a default is the job token.
 */
import { existsSync, readFileSync } from 'node:fs'
import { parse } from 'yaml'

/** Exactly the runner's (and @actions/core's) variable name for an input. */
function inputEnvName(name: string): string {
  return `INPUT_${name.replace(/ /g, '_').toUpperCase()}`
}

/**
 * The inputs declared in an action.yml (in order) and their `default:` values, as strings (the
 * failsafe schema keeps every scalar as written: `'true'`, `1.0`, `${{ github.token }}`); an empty
 * `default:` is ''. Throws on YAML the `yaml` package refuses (the runner refuses it too).
 */
function readInputDefaults(yaml: string): { declared: string[]; defaults: Record<string, string> } {
  const declared: string[] = []
  const defaults: Record<string, string> = {}
  const doc: unknown = parse(yaml, { schema: 'failsafe', mapAsMap: true })
  const inputs = doc instanceof Map ? (doc as Map<unknown, unknown>).get('inputs') : undefined
  if (!(inputs instanceof Map)) return { declared, defaults }
  for (const [key, spec] of inputs as Map<unknown, unknown>) {
    if (typeof key !== 'string') continue
    declared.push(key)
    if (!(spec instanceof Map) || !spec.has('default')) continue
    const value: unknown = spec.get('default')
    if (typeof value === 'string') defaults[key] = value
    else if (value === null || value === undefined) defaults[key] = ''
  }
  return { declared, defaults }
}

/** `${{ github.token }}` is the job token; other `github.*` / `runner.*` / `env.*` come from the environment built here. */
function evaluateDefault(value: string, env: Record<string, string>, jobToken: string): string {
  return value.replace(/\$\{\{\s*([a-z_]+)\.([A-Za-z0-9_]+)\s*\}\}/g, (_all, context: string, name: string) => {
    if (context === 'github') return name.toLowerCase() === 'token' ? jobToken : (env[`GITHUB_${name.toUpperCase()}`] ?? '')
    if (context === 'runner') return env[`RUNNER_${name.toUpperCase()}`] ?? ''
    if (context === 'env') return env[name] ?? ''
    return ''
  })
}

/**
 * Sets the action's inputs in `env`: action.yml's defaults (none when `actionYml` is false or
 * missing) for the inputs not given, evaluated against `env` as it stands, then the inputs given.
 * Returns the inputs given that action.yml does not declare (the runner warns "Unexpected input(s)").
 */
export function applyInputs(
  env: Record<string, string>,
  inputs: Record<string, string>,
  actionYml: string | false,
  jobToken: string
): string[] {
  let unexpectedInputs: string[] = []
  if (actionYml !== false && existsSync(actionYml)) {
    const { declared, defaults } = readInputDefaults(readFileSync(actionYml, 'utf8'))
    for (const [name, value] of Object.entries(defaults)) {
      if (!(name in inputs)) env[inputEnvName(name)] = evaluateDefault(value, env, jobToken)
    }
    const known = new Set(declared.map((n) => n.toLowerCase()))
    unexpectedInputs = Object.keys(inputs).filter((n) => !known.has(n.toLowerCase()))
  }
  for (const [name, value] of Object.entries(inputs)) env[inputEnvName(name)] = value
  return unexpectedInputs
}
