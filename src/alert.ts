/**
 * The alert issue, as text and as a decision: what a person who was not watching must read, and
 * whether this run opens, updates or closes the one issue kept per refresh-token secret. Pure:
 * housekeeping.ts does the requests, main.ts the wiring.
 *
 * One issue per secret, found again by a marker in its body (and the label): a failing night
 * updates the open issue — its body always tells the latest state, a comment is added only when
 * the diagnosis changed, so never more than one comment a run — and the next healthy run comments
 * once and closes it. Everything a server said stays inside a fenced block (inertBlock): no
 * `@mention`, link, image or HTML in it goes live. The caller redacts every secret before sending.
 */
import { createHash } from 'node:crypto'
import { inertBlock } from './redact.js'

/** What a failed run asks of a person (rotate.ts sets it with the failure). */
export type Needs =
  /** A new authorization (code, or Bitrix24's install token): the refresh token no longer works. */
  | 'authorization'
  /** Renew `github-token` (expired, revoked, or about to expire). */
  | 'github-token'
  /** Give a token the permission the message names. */
  | 'permission'
  /** Fix the workflow's inputs. */
  | 'inputs'
  /** The new refresh token is only in the rescue line (and the run's outputs). */
  | 'rescue'
  /** Nothing is lost: the next run tries again. */
  | 'nothing'
  /** Something odd: the message says what. */
  | 'read'

/** The label every alert issue carries, and by which the open one is listed (never the search API). */
export const ALERT_LABEL = 'token-rotation'

/** Issues hold 65,536 characters; the message is cut well before. */
const MESSAGE_MAX = 20_000

/** The marker that ties an issue to one secret. `secret` is the described secret ("repository secret X of o/r"). */
export const alertMarker = (secret: string): string =>
  `<!-- token-rotation-alert: ${createHash('sha256').update(secret.toLowerCase()).digest('hex').slice(0, 24)} -->`

/** What the issue remembers between runs, in its body. */
interface AlertState {
  /** When this alert was first opened. */
  since: string
  /** Failing (or needing attention) runs so far. */
  runs: number
  /** The diagnosis: a comment is added when it changes. */
  sig: string
  /** The last day the refresh token can still be used, as last known (YYYY-MM-DD). */
  lastDay?: string
}

const STATE = /<!-- token-rotation-state: (\{[^\n]*?\}) -->/

function readState(body: string): AlertState | undefined {
  const json = STATE.exec(body)?.[1]
  if (!json) return undefined
  try {
    const value = JSON.parse(json) as Partial<AlertState>
    // Anyone who can edit the issue can edit this: only a state that makes sense is taken back.
    if (typeof value.since !== 'string' || Number.isNaN(Date.parse(value.since))) return undefined
    if (typeof value.runs !== 'number' || !Number.isSafeInteger(value.runs) || value.runs < 0 || typeof value.sig !== 'string')
      return undefined
    return {
      since: value.since,
      runs: value.runs,
      sig: value.sig,
      ...(typeof value.lastDay === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(value.lastDay) ? { lastDay: value.lastDay } : {})
    }
  } catch {
    return undefined
  }
}

/** Dates and numbers vary from run to run; the diagnosis does not. */
const signature = (needs: string, message: string): string =>
  createHash('sha256')
    .update(`${needs}\n${message.replace(/\d+/g, '#').slice(0, 300)}`)
    .digest('hex')
    .slice(0, 12)

export interface AlertContext {
  /** "amoCRM", "Bitrix24", a token endpoint's host. */
  label: string
  /** The described secret: "repository secret AMOCRM_REFRESH_TOKEN of acme/crm-sync". */
  secret: string
  /** The run's failure, as printed; undefined for a run that succeeded. */
  failure: string | undefined
  needs: Needs | undefined
  /** Things to do before a date although the run succeeded (the github-token's expiry). */
  attention: string[]
  /** The last day the refresh token can still be used, when known; `lastDayWhy` says by which rule. */
  lastDay: Date | undefined
  lastDayWhy: string | undefined
  /** What to do for a new authorization, in the provider's words. */
  newAuthorization: string
  rescueLine: string | undefined
  /** The spend happened (a rescue line is worth looking for). */
  spent: boolean
  runUrl: string | undefined
  /** The workflow's page, where "Run workflow" is. */
  workflowUrl: string | undefined
  now: Date
}

export interface OpenAlert {
  number: number
  body: string
}

export type AlertAction =
  | { kind: 'none' }
  | { kind: 'create'; title: string; body: string; labels: string[] }
  | { kind: 'update'; number: number; title: string; body: string; comment: string | undefined }
  | { kind: 'close'; number: number; comment: string }

const day = (d: Date): string => d.toISOString().slice(0, 10)
const time = (d: Date): string => `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`
const link = (text: string, url: string | undefined): string => (url ? `[${text}](${url})` : text)

function advice(context: AlertContext): string {
  const run = context.workflowUrl
    ? `Open ${link('the workflow', context.workflowUrl)} and use **Run workflow** when you have what it needs.`
    : 'Run the workflow by hand (Actions → the workflow → **Run workflow**) when you have what it needs.'
  switch (context.needs) {
    case 'authorization':
      return `The refresh token in the ${context.secret} no longer works. ${context.newAuthorization} ${run}`
    case 'github-token':
      return "Renew `github-token`: create a new token with the same permissions (the message names them) and update the secret that holds it (the README's workflow calls it `SECRETS_TOKEN`). The next run then works again; until then every run stops before spending anything."
    case 'permission':
      return "Give the token the permission the message names: the job token's come from the workflow's `permissions:`, `github-token`'s from its settings. Nothing was spent; the next run works once the permission is there."
    case 'inputs':
      return "Fix the workflow's inputs as the message says. Nothing was spent."
    case 'rescue':
      return `The new refresh token is **not** in the ${context.secret}: it is in the rescue line below (and in the failed run's step outputs). Open it with your private key — \`npx -y github:amocrm-actions/token-rotation#v1 open\` — and store its refresh token in the secret before the next run (README: "Rescue").`
    case 'nothing':
      return 'Nothing is lost: the secret still holds a working token, and the next run tries again. If this issue stays open for several runs, act on the message.'
    default:
      return 'Read the message: it says whether anything is lost and what to do.'
  }
}

function lastDayLine(context: AlertContext, state: AlertState | undefined): string {
  if (context.needs === 'authorization') return 'The refresh token in the secret no longer works: it has no last day to wait for.'
  const lastDay = context.lastDay ? day(context.lastDay) : state?.lastDay
  if (!lastDay)
    return 'The last day the refresh token can still be used is not known (the provider names no lifetime, or the secret could not be read).'
  return `The refresh token can still be used until **${lastDay}**${context.lastDay && context.lastDayWhy ? ` (${context.lastDayWhy})` : ''}: a working run before then keeps the chain alive.`
}

function body(context: AlertContext, state: AlertState): string {
  const failing = context.failure !== undefined
  const heading = failing ? `## ${context.label} token rotation is failing` : `## ${context.label} token rotation needs you before a date`
  const message = failing ? (context.failure ?? '') : context.attention.join('\n')
  const cut = message.length > MESSAGE_MAX ? `${message.slice(0, MESSAGE_MAX)}…` : message
  const rescue = context.rescueLine
    ? `A rescue line was printed (sealed to \`rescue-public-key\`; only your private key opens it):\n\n${inertBlock(context.rescueLine)}`
    : context.spent && failing
      ? "No rescue line was printed (no `rescue-public-key` is set): the failed run's step outputs are the only other copy of the new tokens."
      : 'No rescue line was needed: nothing was spent, or the new token was stored.'
  return [
    alertMarker(context.secret),
    `<!-- token-rotation-state: ${JSON.stringify(state)} -->`,
    heading,
    '',
    `**Secret:** ${context.secret}`,
    `**${failing ? 'Failing' : 'Open'} since:** ${time(new Date(state.since))} (${state.runs} run${state.runs === 1 ? '' : 's'})`,
    `**Last run:** ${link(time(context.now), context.runUrl)}`,
    '',
    lastDayLine(context, state),
    '',
    '### What happened',
    '',
    inertBlock(cut),
    '',
    '### What to do',
    '',
    failing ? advice(context) : `${context.attention.length > 1 ? 'Each line above says' : 'The line above says'} what to do, and by when.`,
    '',
    '### Rescue',
    '',
    rescue,
    '',
    '---',
    `Opened by the token rotation action for this secret; the next healthy run closes it. Set \`alert: none\` to switch these issues off.`
  ].join('\n')
}

/**
 * What this run does about the alert: open one (a failure or a date to act on, none open), update
 * the open one (edit; a comment only when the diagnosis changed), close it (healthy, one comment),
 * or nothing.
 */
export function decideAlert(context: AlertContext, open: OpenAlert | undefined): AlertAction {
  const needsYou = context.failure !== undefined || context.attention.length > 0
  if (!needsYou) {
    if (!open) return { kind: 'none' }
    return {
      kind: 'close',
      number: open.number,
      comment: `Healthy again: ${link('this run', context.runUrl)} at ${time(context.now)} kept the ${context.secret} working${context.lastDay ? `; the refresh token can now be used until ${day(context.lastDay)}` : ''}. Closing.`
    }
  }
  const message = context.failure ?? context.attention.join('\n')
  const sig = signature(context.failure !== undefined ? (context.needs ?? 'read') : 'attention', message)
  const previous = open ? readState(open.body) : undefined
  const lastDay = context.lastDay ? day(context.lastDay) : previous?.lastDay
  const state: AlertState = {
    since: previous?.since ?? context.now.toISOString(),
    runs: (previous?.runs ?? 0) + 1,
    sig,
    ...(lastDay ? { lastDay } : {})
  }
  const title =
    context.failure !== undefined
      ? `Token rotation failing: ${context.secret}`
      : `Token rotation needs you before ${day(firstDate(context.attention) ?? context.now)}: ${context.secret}`
  const text = body(context, state)
  if (!open) return { kind: 'create', title, body: text, labels: [ALERT_LABEL] }
  const changed = previous?.sig !== sig
  return {
    kind: 'update',
    number: open.number,
    title,
    body: text,
    comment: changed
      ? `${link('A run', context.runUrl)} at ${time(context.now)} ${context.failure !== undefined ? 'failed' : 'needs attention'} with another diagnosis:\n\n${inertBlock(message.length > MESSAGE_MAX ? `${message.slice(0, MESSAGE_MAX)}…` : message)}`
      : undefined
  }
}

/** The first YYYY-MM-DD date in the attention lines: the title's "before". */
function firstDate(lines: string[]): Date | undefined {
  const found = /\b(\d{4}-\d{2}-\d{2})\b/.exec(lines.join('\n'))?.[1]
  return found ? new Date(`${found}T00:00:00Z`) : undefined
}
