/**
 * What a run says to a person, in one place, each sentence under its own key: the failures,
 * warnings and notes of the run as a whole (main.ts) and of its order (rotate.ts), and the one
 * "this is a bug" sentence. The
 * failure and warning keys are documented: `DOCUMENTED` gives each one's row in the troubleshooting
 * tables (docs/troubleshooting.md and its Russian twin), which the docs check holds them to, besides
 * the messages the test runs make the action print. What a provider or GitHub said is worded where
 * it is read (providers/, github/errors.ts); these sentences receive it as a parameter.
 */

/** What a server with reuse detection does; said wherever a stale token is at stake. */
const REUSE_REVOKES =
  'a server that detects the reuse of a spent refresh token (RFC 9700 §4.14.2) revokes the whole grant, the newer token included'

const RESCUE_OPEN = `open it with the action's rescue tool (\`npx -y github:amocrm-actions/token-rotation#v1 open\`) and store the refresh token before the next run (README: "Rescue")`

const OVERLAP =
  'Runs that overlap or wait in a queue hold a spent token: keep the refresh token in an environment secret, read when the job starts (README: "Concurrency").'

const anomalyIn = (anomaly: string | undefined): string => (anomaly ? ` (${anomaly})` : '')
const andRescue = (rescued: boolean): string => (rescued ? ' and the rescue line above' : '')

export const messages = {
  // -- the run as a whole (main.ts)
  cancelledBeforeSpend: (signal: string) => `Cancelled (${signal}) before the token was spent: nothing was changed.`,
  cancelledAfterStore: (signal: string) =>
    `The run was cancelled (${signal}) after the token was spent; the new refresh token was stored first, so nothing is lost.`,
  githubTokenExpiring: (date: string, days: number) =>
    `'github-token' expires on ${date} (in ${days} day${days === 1 ? '' : 's'}): renew it before then — create a new token with the same permissions and update the secret that holds it — or every run fails from ${date} on, and the refresh token stops being rotated.`,
  unevaluatedInput: (name: string) =>
    `Input '${name}' is an unevaluated \${{ … }} expression, not a value: it is treated as unset. A runner evaluates action.yml's defaults; a local tool may not, so give the value in its .env (see .env.example).`,
  summaryNotWritten: (error: string) => `Could not write the job summary: ${error}`,

  /** Anything that was not foreseen: one sentence, wherever it is caught (`afterSpend` false: where nothing can be said of the secret). */
  bug: (error: string, afterSpend = true) =>
    `Unexpected error: ${error}. This is a bug of the action; please report it with this log.${afterSpend ? ' The refresh token secret was not overwritten with an old value.' : ''}`,

  // -- before the spend
  start: (title: string, grant: string, secret: string) => `${title}: spending the ${grant}; the new refresh token goes to the ${secret}.`,
  probeTaken: (base: string, own: string) =>
    `A secret named ${base} already exists and this run did not create it: it is left alone, and the write check uses ${own} instead (if ${base} is a leftover of an earlier run, delete it by hand).`,
  rescueKeyUnusable: () =>
    "Input 'rescue-public-key' cannot be sealed to (it is not a usable X25519 public key): create a key pair with `npx -y github:amocrm-actions/token-rotation#v1 keygen` and put its public half here. Nothing was spent.",
  timesNeeded: (unreadable: string, label: string, secret: string) =>
    `This run's times could not be read (${unreadable}), so it cannot tell whether another run rotated the token after this run read the secret, and ${label} is not known to keep the newer token when a spent one comes back: ${REUSE_REVOKES}. So nothing was sent: nothing is lost, the ${secret} still holds the token. Give the job 'permissions: actions: read' (in a private repository the job token needs it to read this run), or keep the refresh token in an environment secret, read when the job starts (README: "Concurrency").`,
  timesSkipped: (unreadable: string, label: string) =>
    `This run's times could not be read (${unreadable}), so the check for a token that another run rotated after this one was queued is skipped. Give the job 'permissions: actions: read' (README: "Concurrency"); ${label} refuses a spent token and keeps the newer one, so a stale one sent loses nothing.`,
  storedByEarlierStep: () =>
    `The refresh token in hand was stored by an earlier step of this job: it is the newest, whatever the secret's date.`,
  stale: (secret: string, updatedAt: Date, what: string, since: Date) =>
    `Another run rotated the token after this run read it: the ${secret} was updated at ${updatedAt.toISOString()}, after ${what} at ${since.toISOString()}. The refresh token this run holds is already spent, so it was not sent and nothing was stored: nothing is lost — the secret holds the newer token, and the next run uses it. To avoid this, keep the refresh token in an environment secret, which a job reads when it starts (README: "Concurrency").`,
  staleMaybe: (secret: string, updatedAt: Date, what: string, since: Date) =>
    `Another run may have rotated the token after this run read it: the ${secret} was updated at ${updatedAt.toISOString()}, in the same second as ${what} (${since.toISOString()}), and GitHub's dates have whole seconds, so the refresh token this run holds may be the one that update replaced. It was not sent, and nothing was stored: nothing is lost — if it was the newer token after all, the next run uses it. To avoid this, keep the refresh token in an environment secret, which a job reads when it starts (README: "Concurrency").`,
  writeCheckSkipped: () => `Write check skipped (verify-write: false); the public key of the target was read.`,
  probeExisted: (probe: string) =>
    `The probe secret ${probe} already existed when it was written, so it is not deleted; it holds no credential.`,
  writeConfirmed: (probe: string) =>
    `Write access confirmed: ${probe} was written (it is deleted now; the real secret is written only with the new token).`,
  probeNotDeleted: (probe: string, error: string) =>
    `Could not delete the probe secret ${probe}: ${error} Delete it by hand; it holds no credential.`,

  // -- the spend refused: "revoked", and whether another run was first
  anotherRunFirst: (p: { said: string; secret: string; updatedAt: Date; label: string; refuses: boolean; newAuthorization: string }) =>
    `${p.said}, and the ${p.secret} was updated at ${p.updatedAt.toISOString()}, after this run read it: another run rotated the token first. ${afterRace(p)} ${OVERLAP}`,
  sameSecond: (p: { said: string; secret: string; updatedAt: Date; label: string; refuses: boolean; newAuthorization: string }) =>
    `${p.said}, and the ${p.secret} was updated at ${p.updatedAt.toISOString()}, in the same second as this job started: GitHub's dates have whole seconds, so this run cannot tell whether another run rotated the token after this run read it. If one did: ${afterRace(p)} If none did: ${p.newAuthorization} Give the job 'permissions: actions: read' so that runs can tell (README: "Concurrency").`,
  revokedWithoutTimes: (p: { said: string; retried: string; updatedAt: Date | undefined; newAuthorization: string }) =>
    `${p.said}.${p.retried} ${p.updatedAt ? `The secret was last updated at ${p.updatedAt.toISOString()}; this` : 'This'} run could not tell whether that was after it was queued (give the job 'permissions: actions: read'): if another run rotated the token after this run was queued, nothing is lost and the next run succeeds; otherwise: ${p.newAuthorization}`,
  revoked: (p: { said: string; retried: string; updatedAt: Date | undefined; before: string; newAuthorization: string }) =>
    `${p.said}.${p.retried || ' It was already used: by another program holding the same token, or the integration was reinstalled.'}${p.updatedAt ? ` The secret was last updated at ${p.updatedAt.toISOString()}, before ${p.before}, so no other run rotated it since.` : ''} ${p.newAuthorization}`,
  metOnRetry: (label: string) =>
    ` It was met on a retry: an earlier attempt of this run may have reached ${label} and spent the token (its answer was lost or was a server error), and the pair issued then was lost on the way.`,

  // -- the answer
  issued: (label: string, kept: boolean, expiresAt: Date | undefined) =>
    `${label} issued a new ${kept ? 'access token' : 'token pair'}${expiresAt ? `; the access token expires at ${expiresAt.toISOString()}` : ''}.`,
  outputsNotSet: (error: string) => `Could not set the step outputs: ${error}`,
  sameToken: (label: string, anomaly: string | undefined, newAuthorization: string, alwaysRotates = true) =>
    `${label} answered with the very refresh token this run sent${anomalyIn(anomaly)}: ${alwaysRotates ? `${label} always issues a new one, so this is not a new token (an echo of the request, a proxy's answer) and it is not stored as one` : `in an answer that is not clean it may be an echo of the request rather than ${label} keeping its token, so it is not taken as kept`}; the new token, if one was issued, did not arrive. The secret still holds the token this run sent: if the next run reports it spent, ${newAuthorization}`,
  unstorable: (label: string, why: string) =>
    `${label} issued a new refresh token that cannot be kept in a secret and read back unchanged: ${why}. It was not stored.`,
  noRefreshForCode: (label: string) =>
    `${label} answered the authorization code without a refresh token, so there is nothing to rotate: most providers issue one only for a scope such as offline_access (Xero, Atlassian) or offline.access (X); ask for it in the authorization request (and in 'scope' if the provider wants it at the token endpoint), then run again with a new code. The access token reached the step outputs.`,
  refreshCut: (p: {
    label: string
    incomplete: boolean
    anomaly: string | undefined
    secret: string
    newAuthorization: string
    rescued: boolean
  }) =>
    `${p.label}'s answer ${p.incomplete ? 'carried a refresh token that did not arrive whole' : 'was cut off before its end, where a new refresh token may have been'}${anomalyIn(p.anomaly)}: if the provider issued a new one, the old one is spent and the new one is lost. The ${p.secret} still holds the old token: if the next run reports it invalid, ${p.newAuthorization} The access token of this answer reached the step outputs${andRescue(p.rescued)}.`,
  noRefresh: (label: string, anomaly: string | undefined, newAuthorization: string, rescued: boolean) =>
    `${label} answered without a refresh token${anomalyIn(anomaly)}: the old one is spent. ${newAuthorization} The access token of this answer reached the step outputs${andRescue(rescued)}.`,

  // -- the store
  notStored: (why: string, where: string) => `The new refresh token could not be stored: ${why} ${where}`,
  writeCutByCancel: (signal: string) =>
    `the run was cancelled (${signal}) and the write was not confirmed in the time the runner leaves before it kills the step, so it may or may not have landed`,
  rescuePrinted: (prefix: string) =>
    `The new tokens were sealed to 'rescue-public-key' and printed above as one ${prefix}… line (also in the job summary): ${RESCUE_OPEN}.`,
  sealFailed: (error: string) =>
    `Sealing the new tokens to 'rescue-public-key' failed too (${error}): a later step with if: failure() can still save steps.<id>.outputs.refresh-token.`,
  onlyInThisRun: (label: string, spent: boolean) =>
    `${label} ${spent ? 'has already revoked the old token, so the new one exists only in this run' : 'may have revoked the old token; if it did, the new one exists only in this run'}: a later step with if: failure() can save steps.<id>.outputs.refresh-token; without one, a new authorization code will be needed. Set 'rescue-public-key' so that a failed write is never a loss (README: "Rescue").`,
  kept: (label: string, secret: string) =>
    `${label} kept the refresh token (its answer carried no new one): the ${secret} was left as it was, and the next run uses it again.`,
  stored: (secret: string, result: string) => `Stored the new refresh token in the ${secret} (${result}).`,
  inferred: (secret: string, rescued: boolean) =>
    `The write of the ${secret} got no answer, and the secret changed after this run read it: the new refresh token most likely landed, but a change by someone else (a person's gh secret set, a new visibility) would look the same. ${rescued ? `The new tokens are in the rescue line above: if the next run reports the token invalid or revoked, ${RESCUE_OPEN}.` : `The step outputs carry the token for an if: failure() step; set 'rescue-public-key' so that such a run also leaves a sealed copy (README: "Rescue").`}`,
  rescueNotNeeded: () => 'The rescue line printed at the cancellation is not needed: the secret holds the same token.',
  accessStored: (secret: string, result: string) => `Stored the access token in the ${secret} (${result}).`,
  anomalyStored: (anomaly: string, label: string) =>
    `${anomaly}. They are stored; if this repeats, check what stands between the runner and ${label} (a proxy, a PHP notice).`,
  noAccessToken: (label: string, anomaly: string | undefined, secret: string, accessSecret: string | undefined) =>
    `${label} answered without an access token${anomalyIn(anomaly)}: the new refresh token is safe in the ${secret}, so the next run gets a new pair; until then there is no access token${accessSecret ? ` (the ${accessSecret} was left as it was)` : ''}.`,
  accessNotStored: (secret: string, error: string) =>
    `The refresh token is safe in the ${secret}, but the access token could not be stored: ${error} The step outputs still carry it.`
} as const

/** What a race means now, by what the provider does when a spent token comes back. */
function afterRace(p: { label: string; refuses: boolean; newAuthorization: string }): string {
  return p.refuses
    ? `Nothing is lost — the secret holds the newer token, and ${p.label} refuses a spent token without touching the newer one.`
    : `This run's token was already spent, and ${p.label} is not known to keep the newer token when a spent one comes back: ${REUSE_REVOKES}. If the next run also reports the token invalid, a new authorization is needed: ${p.newAuthorization}`
}

type MessageKey = keyof typeof messages

/**
 * The failures and warnings, each with the quote its row in the troubleshooting tables begins with
 * (the tables quote a message with … for what varies). The docs check finds each in both tables.
 */
export const DOCUMENTED: Partial<Record<MessageKey, string>> = {
  cancelledBeforeSpend: '`Cancelled (…) before the token was spent: nothing was changed.`',
  cancelledAfterStore: '`The run was cancelled (…) after the token was spent; the new refresh token was stored first …`',
  githubTokenExpiring: "`'github-token' expires on … (in … days): renew it before then …`",
  unevaluatedInput: "`Input '…' is an unevaluated ${{ … }} expression, not a value …`",
  bug: '`Unexpected error: …`',
  rescueKeyUnusable: "`Input '…' …`",
  timesNeeded:
    "`This run's times could not be read (…), so it cannot tell whether another run rotated the token … is not known to keep the newer token … So nothing was sent: nothing is lost …`",
  stale: '`Another run rotated the token after this run read it: … nothing is lost …`',
  staleMaybe: '`Another run may have rotated the token after this run read it: … in the same second as … nothing is lost …`',
  anotherRunFirst: '`… says the refresh token … another run rotated the token first. Nothing is lost …`',
  sameSecond: "`… in the same second as this job started: GitHub's dates have whole seconds, so this run cannot tell …`",
  revokedWithoutTimes:
    "`… says the refresh token … could not tell whether that was after it was queued (give the job 'permissions: actions: read') …`",
  revoked:
    '`… says the refresh token … It was already used: by another program holding the same token, or the integration was reinstalled …`',
  metOnRetry: '`… says the refresh token … It was met on a retry: an earlier attempt of this run may have reached … and spent the token …`',
  sameToken: '`… answered with the very refresh token this run sent …`',
  unstorable: '`… issued a new refresh token that cannot be kept in a secret and read back unchanged: … It was not stored …`',
  refreshCut:
    "`…'s answer carried a refresh token that did not arrive whole …`, `…'s answer was cut off before its end, where a new refresh token may have been …`",
  noRefresh: '`… answered without a refresh token …: the old one is spent …`',
  notStored: "`The new refresh token could not be stored: … sealed to 'rescue-public-key' …`",
  writeCutByCancel:
    '`… the write was not confirmed in the time the runner leaves before it kills the step, so it may or may not have landed`',
  inferred: '`The write of … got no answer, and the secret changed after this run read it: the new refresh token most likely landed …`',
  anomalyStored: '`… They are stored; if this repeats, check what stands between the runner and …`',
  noAccessToken: '`… answered without an access token: the new refresh token is safe …`',
  accessNotStored: '`The refresh token is safe …, but the access token could not be stored`'
}
