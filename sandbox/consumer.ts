/**
 * The seed's consumer example — for a lead, its responsible user and its main contact — exactly as
 * the README's workflow runs it in a step after the action (curl + jq), taken from
 * examples/rotate.yml so the documentation and the tests cannot drift apart. Where curl or jq is
 * missing, a Node equivalent of the same request and selection runs instead.
 */
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { parse } from 'yaml'
import { PROJECT_ROOT } from './runner.js'

const exec = promisify(execFile)

export interface LeadPeople {
  lead_id: number
  responsible_user_id: number
  main_contact_id: number | null
}

interface Step {
  name?: string
  run?: string
  env?: Record<string, string>
}

/** The `run:` script of the example workflow's lead step. */
export function exampleScript(): string {
  const workflow = parse(readFileSync(join(PROJECT_ROOT, 'examples', 'rotate.yml'), 'utf8')) as { jobs: Record<string, { steps: Step[] }> }
  const step = Object.values(workflow.jobs)
    .flatMap((job) => job.steps)
    .find((s) => s.run?.includes('/leads/'))
  if (!step?.run) throw new Error('examples/rotate.yml has no lead step')
  return step.run
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
    const { stdout } = await exec('bash', ['-eo', 'pipefail', '-c', exampleScript()], {
      env: { PATH: process.env.PATH ?? '', API_URL: apiUrl, ACCESS_TOKEN: accessToken, LEAD_ID: leadId }
    })
    return { result: JSON.parse(stdout) as LeadPeople, how: 'curl + jq (the workflow step)' }
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
