/**
 * The three places a secret can live — a repository, an environment, an organization — each as
 * one descriptor built once from the inputs: its name for people, its secrets route, what a token
 * needs to write there, what a 404 there means, when a run's runner reads its secrets, and who may
 * read a secret there (an organization's audience). The store, the run's order and the error
 * wording read these; nothing else switches on the kind of target.
 */
export const VISIBILITIES = ['all', 'private', 'selected'] as const
export type Visibility = (typeof VISIBILITIES)[number]

export interface RepoRef {
  owner: string
  repo: string
}

export type Target =
  | ({ kind: 'repository' } & RepoRef)
  | ({ kind: 'environment'; environment: string } & RepoRef)
  /** `visibility` undefined: an existing secret keeps its own; a new one is private. */
  | { kind: 'organization'; org: string; visibility: Visibility | undefined; selectedRepositories: RepoRef[] }

export interface TargetInfo {
  readonly target: Target
  /** e.g. "repository acme/crm-sync". */
  readonly name: string
  /** The route of its secrets collection and that route's parameters. */
  readonly route: string
  readonly params: Record<string, string>
  /** e.g. "repository secret AMOCRM_REFRESH_TOKEN of acme/crm-sync". */
  describe(secret: string): string
  /** What the token needs, for each kind of token. */
  readonly permission: string
  /** What a 404 means here: `lead` is "GitHub refused to … (404 …)". */
  notFound(lead: string): string
  /**
   * When a run reads secrets of this kind (GitHub, "When GitHub Actions reads secrets"): repository
   * and organization secrets when the run is queued, environment secrets when a job that names the
   * environment starts. A secret updated after that moment was not in the run's hands.
   */
  readonly readAt: 'queued' | 'job-start'
  /** Who may read a secret here, where the inputs have a say (an organization); undefined elsewhere. */
  readonly audience: Audience | undefined
}

/** An organization secret's audience: what the inputs ask, and what a write then sends. */
interface Audience {
  readonly org: string
  /** `selected-repositories`, duplicates collapsed (inputs.ts): the whole list, or empty to keep the secret's. */
  readonly repositories: readonly RepoRef[]
  /** The visibility a write sets: the inputs', else the secret's own, else private. */
  visibilityFor(current: Visibility | undefined): Visibility
  /** A write must keep the repositories the secret is shared with now (selected, and no list given). */
  keepsSelection(current: Visibility | undefined): boolean
}

function audienceOf(target: Extract<Target, { kind: 'organization' }>): Audience {
  const visibilityFor = (current: Visibility | undefined): Visibility => target.visibility ?? current ?? 'private'
  return {
    org: target.org,
    repositories: target.selectedRepositories,
    visibilityFor,
    keepsSelection: (current) => visibilityFor(current) === 'selected' && target.selectedRepositories.length === 0
  }
}

export function targetInfo(target: Target): TargetInfo {
  switch (target.kind) {
    case 'repository': {
      const repo = `${target.owner}/${target.repo}`
      const permission = `a fine-grained token needs the repository permission "Secrets: Read and write" on ${repo}, a GitHub App token "secrets: write", a classic token the "repo" scope`
      return {
        target,
        name: `repository ${repo}`,
        route: '/repos/{owner}/{repo}/actions/secrets',
        params: { owner: target.owner, repo: target.repo },
        describe: (secret) => `repository secret ${secret} of ${repo}`,
        permission,
        notFound: (lead) =>
          `${lead}: repository ${repo} does not exist or 'github-token' cannot see it; check 'repository' and the repositories the token is granted (${permission}).`,
        readAt: 'queued',
        audience: undefined
      }
    }
    case 'environment': {
      const repo = `${target.owner}/${target.repo}`
      const permission = `a fine-grained token needs the repository permissions "Secrets: Read and write" and "Environments: Read and write" on ${repo}, a GitHub App token "secrets: write" and "environments: write", a classic token the "repo" scope`
      return {
        target,
        name: `environment '${target.environment}' of ${repo}`,
        route: '/repos/{owner}/{repo}/environments/{environment_name}/secrets',
        params: { owner: target.owner, repo: target.repo, environment_name: target.environment },
        describe: (secret) => `secret ${secret} of environment '${target.environment}' in ${repo}`,
        permission,
        notFound: (lead) =>
          `${lead}: environment '${target.environment}' does not exist in ${repo} (create it under Settings → Environments), or 'github-token' cannot see it (${permission}).`,
        readAt: 'job-start',
        audience: undefined
      }
    }
    case 'organization': {
      const permission = `a fine-grained token needs the organization permission "Secrets: Read and write" on ${target.org}${target.selectedRepositories.length > 0 ? " and read access (Metadata) to every repository in 'selected-repositories'" : ''}, a GitHub App token "organization_secrets: write", a classic token the "admin:org" scope (and "repo" when a selected repository is private)`
      return {
        target,
        name: `organization ${target.org}`,
        route: '/orgs/{org}/actions/secrets',
        params: { org: target.org },
        describe: (secret) =>
          `organization secret ${secret} of ${target.org}${target.visibility ? ` (visibility: ${target.visibility})` : ''}`,
        permission,
        notFound: (lead) =>
          `${lead}: organization '${target.org}' does not exist or 'github-token' cannot manage its secrets (${permission}).`,
        readAt: 'queued',
        audience: audienceOf(target)
      }
    }
  }
}

/** e.g. "repository acme/crm-sync". */
export const targetName = (target: Target): string => targetInfo(target).name

/** What the token needs to write secrets of `target`. */
export const requiredPermission = (target: Target): string => targetInfo(target).permission
