/**
 * The seed's consumer example — for a lead, its responsible user and its main contact — exactly as
 * the README's workflow runs it in a step after the action (curl + jq), taken from
 * examples/rotate.yml so the documentation and the tests cannot drift apart. Where curl or jq is
 * missing, a Node equivalent of the same request and selection runs instead.
 *
 * A step's script runs the way a Linux runner runs it: written to a file and started with the
 * shell GitHub picks for the step (workflow syntax, `jobs.<job_id>.steps[*].shell`): no `shell:`
 * means `bash -e {0}` (no pipefail), `shell: bash` means `bash --noprofile --norc -eo pipefail {0}`.
 */
import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { parse } from 'yaml'
import { PROJECT_ROOT } from '../runner/runner.js'

const exec = promisify(execFile)

interface LeadPeople {
  lead_id: number
  responsible_user_id: number
  main_contact_id: number | null
}

interface Step {
  name?: string
  uses?: string
  run?: string
  shell?: string
  env?: Record<string, string>
}

interface Defaults {
  run?: { shell?: string }
}

export interface Workflow {
  defaults?: Defaults
  jobs?: Record<string, { defaults?: Defaults; steps?: Step[] }>
}

/** A `run:` step of a workflow, with the shell it declares (step, else job, else workflow defaults). */
export interface RunStep {
  source: string
  job: string
  name: string
  script: string
  shell: string | undefined
  env: Record<string, string>
}

/** Every `run:` step of a parsed workflow. */
export function runSteps(workflow: Workflow, source: string): RunStep[] {
  return Object.entries(workflow.jobs ?? {}).flatMap(([job, definition]) =>
    (definition.steps ?? [])
      .filter((step): step is Step & { run: string } => typeof step.run === 'string')
      .map((step, index) => ({
        source,
        job,
        name: step.name ?? `step ${index + 1}`,
        script: step.run,
        shell: step.shell ?? definition.defaults?.run?.shell ?? workflow.defaults?.run?.shell,
        env: Object.fromEntries(Object.entries(step.env ?? {}).map(([key, value]) => [key, String(value)]))
      }))
  )
}

/** The command line a Linux runner uses for `shell` (undefined: none declared) and a script file. */
function shellCommand(shell: string | undefined, file: string): [string, string[]] {
  switch (shell) {
    case undefined:
      return ['bash', ['-e', file]]
    case 'bash':
      return ['bash', ['--noprofile', '--norc', '-eo', 'pipefail', file]]
    case 'sh':
      return ['sh', ['-e', file]]
    default: {
      if (!shell.includes('{0}')) throw new Error(`shell '${shell}' is not emulated here`)
      const [command, ...args] = shell.split(/\s+/).map((word) => word.replace('{0}', file))
      return [command ?? 'bash', args]
    }
  }
}

interface StepResult {
  code: number
  stdout: string
  stderr: string
}

/** Runs a step's script as a Linux runner does, with only PATH and `env` in its environment. */
export async function runStepScript(step: Pick<RunStep, 'script' | 'shell'>, env: Record<string, string>): Promise<StepResult> {
  const dir = mkdtempSync(join(tmpdir(), 'step-'))
  const file = join(dir, 'step.sh')
  writeFileSync(file, step.script)
  const [command, args] = shellCommand(step.shell, file)
  try {
    const { stdout, stderr } = await exec(command, args, { env: { PATH: process.env.PATH ?? '', ...env } })
    return { code: 0, stdout, stderr }
  } catch (error) {
    const e = error as { code?: number | string; stdout?: string; stderr?: string }
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** The lead step of examples/rotate.yml (the README's workflow). */
function exampleStep(): RunStep {
  const file = join(PROJECT_ROOT, 'examples', 'rotate.yml')
  const step = runSteps(parse(readFileSync(file, 'utf8')) as Workflow, 'examples/rotate.yml').find((s) => s.script.includes('/leads/'))
  if (!step) throw new Error('examples/rotate.yml has no lead step')
  return step
}

async function has(command: string): Promise<boolean> {
  try {
    await exec('sh', ['-c', `command -v ${command}`])
    return true
  } catch {
    return false
  }
}

/** Runs the example step with the action's outputs; `how` says whether curl + jq or the Node fallback ran. */
export async function leadPeople(apiUrl: string, accessToken: string, leadId: string): Promise<{ result: LeadPeople; how: string }> {
  if ((await has('curl')) && (await has('jq'))) {
    const run = await runStepScript(exampleStep(), { API_URL: apiUrl, ACCESS_TOKEN: accessToken, LEAD_ID: leadId })
    if (run.code !== 0) throw new Error(`the lead step failed (exit ${run.code}): ${run.stderr.trim()}`)
    return { result: JSON.parse(run.stdout) as LeadPeople, how: 'curl + jq (the workflow step)' }
  }
  const response = await fetch(`${apiUrl}/leads/${leadId}?with=contacts`, { headers: { authorization: `Bearer ${accessToken}` } })
  if (!response.ok) throw new Error(`GET /leads/${leadId}: ${response.status}`)
  const lead = (await response.json()) as {
    id: number
    responsible_user_id: number
    _embedded?: { contacts?: Array<{ id: number; is_main: boolean }> }
  }
  const main = lead._embedded?.contacts?.find((c) => c.is_main)
  return {
    result: { lead_id: lead.id, responsible_user_id: lead.responsible_user_id, main_contact_id: main?.id ?? null },
    how: 'Node fallback (curl or jq not installed)'
  }
}
