/**
 * A repository's Actions variables: values a workflow reads as `${{ vars.NAME }}` that are not
 * secret (the init command keeps the rescue public key in one). Set creates the variable, or
 * updates it when it exists (GitHub answers a create of an existing name 409 "Already exists");
 * delete. Each request goes through request.ts: retries, time limits, GitHub's answers in words.
 */
import { gitHubRequest, type Accept, type GitHubDeps } from './request.js'
import type { RepoRef } from './targets.js'

/** What a token needs to write a repository's variables, for each kind of token. */
export const variablesPermission = (repo: RepoRef): string =>
  `a fine-grained token needs the repository permission "Variables: Read and write" on ${repo.owner}/${repo.repo}, a GitHub App token "actions_variables: write", a classic token the "repo" scope`

export class GitHubVariables {
  constructor(
    readonly repo: RepoRef,
    private readonly deps: GitHubDeps
  ) {}

  /** e.g. "repository variable AMOCRM_RESCUE_PUBLIC_KEY of acme/crm-sync". */
  describe(name: string): string {
    return `repository variable ${name} of ${this.repo.owner}/${this.repo.repo}`
  }

  private request<T>(doing: string, route: string, params: Record<string, unknown>, accept: Accept<T>): Promise<T> {
    return gitHubRequest(
      this.deps,
      { kind: 'repository', ...this.repo },
      {
        doing,
        route,
        params: { owner: this.repo.owner, repo: this.repo.repo, ...params },
        accept,
        permission: variablesPermission(this.repo)
      }
    )
  }

  /** Creates the variable, or updates it when one of that name exists. */
  async set(name: string, value: string): Promise<'created' | 'updated'> {
    const doing = `write the ${this.describe(name)}`
    // A create whose answer was lost and that is retried meets its own variable: 409, then an update of the same value.
    const created = await this.request(
      doing,
      'POST /repos/{owner}/{repo}/actions/variables',
      { name, value },
      {
        201: () => true,
        409: () => false
      }
    )
    if (created) return 'created'
    await this.request(doing, 'PATCH /repos/{owner}/{repo}/actions/variables/{name}', { name, value }, { 204: () => true })
    return 'updated'
  }

  /** The variable's value; undefined when there is none of that name. */
  async get(name: string): Promise<string | undefined> {
    return this.request(
      `read the ${this.describe(name)}`,
      'GET /repos/{owner}/{repo}/actions/variables/{name}',
      { name },
      {
        200: (data) => {
          const value = (data as { value?: unknown } | undefined)?.value
          return typeof value === 'string' ? value : undefined
        },
        404: () => undefined
      }
    )
  }

  async delete(name: string): Promise<void> {
    // 404: already gone (perhaps by a first attempt whose answer was lost).
    await this.request(
      `delete the ${this.describe(name)}`,
      'DELETE /repos/{owner}/{repo}/actions/variables/{name}',
      { name },
      {
        204: () => true,
        404: () => true
      }
    )
  }
}
