/**
 * Token values shared by the stand-ins and the emulated runner, in a module of their own so that
 * runner.ts does not load the GitHub stand-in (and libsodium) to know them.
 *
 * Emulates: nothing by itself. Deliberately not emulated: nothing (constants only).
 */

/**
 * The job's `${{ github.token }}` (GITHUB_TOKEN) in the sandbox. The GitHub stand-in grants it
 * `actions: read` and `issues: write` (like a real GITHUB_TOKEN with `permissions: { actions: read,
 * issues: write }`, it reads workflow runs and opens the alert issue, but can neither read nor write
 * secrets, nor enable a workflow); what it creates is by `github-actions[bot]`. The emulated runner
 * uses it for `${{ github.token }}` in action.yml defaults and masks it from the start, like the
 * runner masks the job's token.
 */
export const DEMO_JOB_TOKEN = 'ghs_sandbox_job_token'
