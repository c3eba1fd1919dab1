/**
 * The job summary: what was done, where the token went, when things expire — never a secret value.
 */
import type { RotationReport } from './rotate.js'
import type { WriteResult } from './github/secrets.js'
import { inertBlock } from './redact.js'

const day = (d: Date): string => d.toISOString().slice(0, 10)
const time = (d: Date): string => `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`
/** Table cells must not break the table. */
const cell = (text: string): string => text.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ')

function table(rows: Array<[string, string | undefined]>): string {
  const lines = rows.filter((r): r is [string, string] => r[1] !== undefined).map(([k, v]) => `| ${k} | ${cell(v)} |`)
  return ['| | |', '| --- | --- |', ...lines].join('\n')
}

interface SummaryContext {
  cancelled: string | undefined
  /** The workflow event (schedule, workflow_dispatch, …) and a link to the run, when known. */
  trigger?: string
  runUrl?: string
  /** When `github-token` expires, as GitHub said (a personal access token). */
  githubTokenExpiresAt?: Date
  /** What the run did about its alert issue, or why it could not. */
  alert?: string
  /** What the run did to keep its schedule alive (public repositories), or why it could not. */
  schedule?: string
}

export function renderSummary(report: RotationReport, context: SummaryContext): string {
  const ok = report.failure === undefined && !context.cancelled
  const heading = ok
    ? `## ${report.label} tokens rotated`
    : report.refreshStored || report.refreshKept
      ? `## ${report.label} tokens rotated, with a problem`
      : `## ${report.label} token rotation failed`
  const parts = [heading, '']
  if (report.failure) parts.push(inertBlock(report.failure), '')
  if (context.cancelled) {
    parts.push(
      `The run was cancelled (${context.cancelled}) after the token was spent; ${report.refreshStored ? 'the new refresh token was stored first, so nothing is lost' : 'see above for where the new refresh token is'}.`,
      ''
    )
  }
  if (report.rescueLine) {
    parts.push(
      'The new tokens, sealed to `rescue-public-key` (open with `npx -y github:amocrm-actions/token-rotation#v1 open`, see the README, "Rescue"):',
      '',
      '```',
      report.rescueLine,
      '```',
      ''
    )
  }
  const stored = (what: WriteResult | undefined, where: string | undefined): string | undefined =>
    where === undefined
      ? undefined
      : what === 'inferred'
        ? `${where} (most likely: the write got no answer, and the secret changed after this run read it)`
        : what
          ? `${where} (${what})`
          : `**not stored** — ${where}`
  parts.push(
    table([
      ['Account', `${report.account}${report.accountId ? ` (ID ${report.accountId})` : ''}`],
      ['Spent', `the ${report.grant}`],
      [
        'Write check',
        report.writeCheck === 'passed' ? 'passed: a probe secret was written and deleted before the token was spent' : report.writeCheck
      ],
      [
        'Refresh token',
        report.issuedAt
          ? report.refreshKept
            ? `unchanged: ${report.label} kept it (no new one in its answer), so the ${report.refreshSecret} was left as it was`
            : stored(report.refreshStored, report.refreshSecret)
          : undefined
      ],
      [
        'Access token',
        report.issuedAt
          ? (stored(report.accessStored, report.accessSecret) ?? 'step outputs only (set access-token-secret to store it)')
          : undefined
      ],
      ['Access token expires', report.expiresAt ? time(report.expiresAt) : undefined],
      [
        'Refresh again before',
        report.refreshBy && report.refreshStored
          ? `${day(report.refreshBy)}${report.refreshByWhy ? ` (${report.refreshByWhy})` : ''}`
          : undefined
      ],
      ['API', report.apiUrl || undefined],
      ['github-token expires', context.githubTokenExpiresAt ? time(context.githubTokenExpiresAt) : undefined],
      ['Alert issue', context.alert],
      ['Schedule', context.schedule],
      ['Run', context.trigger && context.runUrl ? `[${context.trigger}](${context.runUrl})` : undefined]
    ]),
    ''
  )
  return parts.join('\n')
}

/** A run that failed before rotate() began: bad inputs, nothing sent. */
export function renderEarlyFailure(message: string, label = 'amoCRM'): string {
  return [
    `## ${label} token rotation failed`,
    '',
    inertBlock(message),
    '',
    'Nothing was sent to the provider, and no secret was read or written: the token was not spent.',
    ''
  ].join('\n')
}
