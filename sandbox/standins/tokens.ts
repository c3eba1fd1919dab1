/**
 * The sandbox's two GitHub tokens, shared by the GitHub stand-in (which grants them), the token
 * stand-ins' input helpers and the emulated runner, in a module of their own so that neither the
 * runner nor the token stand-ins load the GitHub stand-in (and libsodium) to know them.
 */

/**
 * The token the GitHub stand-in grants every secrets permission by default (repository,
 * environment and organization secrets, and `Variables: write`, which the init command needs for
 * the rescue key's variable; no `actions: read`): the `github-token` input that the
 * stand-ins' input helpers (`standInInputs`, `bitrix24Inputs`, `oauth2Inputs`) pass.
 */
export const DEMO_GITHUB_TOKEN = 'ghs_demo_write_token'

/**
 * The job's `${{ github.token }}` (GITHUB_TOKEN) in the sandbox. The GitHub stand-in grants it
 * `actions: read` and `issues: write` (like a real GITHUB_TOKEN with `permissions: { actions: read,
 * issues: write }`, it reads workflow runs and opens the alert issue, but can neither read nor write
 * secrets, nor enable a workflow); what it creates is by `github-actions[bot]`. The emulated runner
 * uses it for `${{ github.token }}` in action.yml defaults and masks it from the start, like the
 * runner masks the job's token.
 */
export const DEMO_JOB_TOKEN = 'ghs_sandbox_job_token'
