/**
 * The run's directory as the runner lays it out for a step — the file-command files (GITHUB_OUTPUT,
 * GITHUB_STATE, GITHUB_ENV, GITHUB_PATH, GITHUB_STEP_SUMMARY), the event payload (GITHUB_EVENT_PATH),
 * RUNNER_TEMP and the workspace — and the runner's parsing of the file commands after the step
 * (heredoc and `name=value`).
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'

/** The file-command files and the event payload, by the variable that names each. */
interface FileCommandPaths {
  GITHUB_OUTPUT: string
  GITHUB_STATE: string
  GITHUB_ENV: string
  GITHUB_PATH: string
  GITHUB_STEP_SUMMARY: string
  GITHUB_EVENT_PATH: string
}

export interface RunDirectory {
  files: FileCommandPaths
  /** RUNNER_TEMP */
  runnerTemp: string
  /** GITHUB_WORKSPACE, the action's working directory. */
  workspace: string
}

/** Lays out `dir` for one run: the file-command files empty, the event payload written, RUNNER_TEMP and the workspace created. */
export async function prepareRunDirectory(dir: string, eventPayload: unknown): Promise<RunDirectory> {
  const files: FileCommandPaths = {
    GITHUB_OUTPUT: join(dir, 'file_commands', 'output'),
    GITHUB_STATE: join(dir, 'file_commands', 'state'),
    GITHUB_ENV: join(dir, 'file_commands', 'env'),
    GITHUB_PATH: join(dir, 'file_commands', 'path'),
    GITHUB_STEP_SUMMARY: join(dir, 'file_commands', 'step_summary'),
    GITHUB_EVENT_PATH: join(dir, 'workflow', 'event.json')
  }
  const runnerTemp = join(dir, 'temp')
  const workspace = join(dir, 'work', 'crm-sync', 'crm-sync')
  await Promise.all([
    mkdir(join(dir, 'file_commands'), { recursive: true }),
    mkdir(join(dir, 'workflow'), { recursive: true }),
    mkdir(runnerTemp, { recursive: true }),
    mkdir(workspace, { recursive: true })
  ])
  await Promise.all([
    writeFile(files.GITHUB_OUTPUT, ''),
    writeFile(files.GITHUB_STATE, ''),
    writeFile(files.GITHUB_ENV, ''),
    writeFile(files.GITHUB_PATH, ''),
    writeFile(files.GITHUB_STEP_SUMMARY, ''),
    writeFile(files.GITHUB_EVENT_PATH, JSON.stringify(eventPayload))
  ])
  return { files, runnerTemp, workspace }
}

/**
 * Parses a file-command file (GITHUB_OUTPUT, GITHUB_STATE, GITHUB_ENV) like the runner:
 * `name<<DELIMITER` … `DELIMITER` (any delimiter) or `name=value`; blank lines are skipped.
 * Throws on a line of neither form or a heredoc without its closing delimiter (the runner fails
 * the step then).
 */
function parseFileCommands(text: string): Record<string, string> {
  const result: Record<string, string> = {}
  const lines = text.split(/\r?\n/)
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? ''
    if (line === '') continue
    const eq = line.indexOf('=')
    const heredoc = line.indexOf('<<')
    if (eq >= 0 && (heredoc < 0 || eq < heredoc)) {
      const name = line.slice(0, eq)
      if (name === '') throw new Error(`Invalid file command line (empty name): ${line}`)
      result[name] = line.slice(eq + 1)
      continue
    }
    if (heredoc > 0) {
      const name = line.slice(0, heredoc)
      const delimiter = line.slice(heredoc + 2)
      if (delimiter === '') throw new Error(`Invalid file command line (empty delimiter): ${line}`)
      const value: string[] = []
      let closed = false
      for (i += 1; i < lines.length; i++) {
        const next = lines[i] ?? ''
        if (next === delimiter) {
          closed = true
          break
        }
        value.push(next)
      }
      if (!closed) throw new Error(`Matching delimiter not found '${delimiter}' for ${name}`)
      result[name] = value.join('\n')
      continue
    }
    throw new Error(`Invalid file command line: ${line}`)
  }
  return result
}

/** What the step left in the file-command files, parsed (GITHUB_PATH is not read). Throws like parseFileCommands. */
export async function readFileCommands(
  files: FileCommandPaths
): Promise<{ outputs: Record<string, string>; state: Record<string, string>; exportedEnv: Record<string, string>; summary: string }> {
  const [outputText, stateText, envText, summary] = await Promise.all([
    readFile(files.GITHUB_OUTPUT, 'utf8'),
    readFile(files.GITHUB_STATE, 'utf8'),
    readFile(files.GITHUB_ENV, 'utf8'),
    readFile(files.GITHUB_STEP_SUMMARY, 'utf8')
  ])
  return { outputs: parseFileCommands(outputText), state: parseFileCommands(stateText), exportedEnv: parseFileCommands(envText), summary }
}
