/**
 * Where init finds the repository and a token: the git remote 'origin' of the current folder (or
 * `--repo`), and GH_TOKEN / GITHUB_TOKEN, else the GitHub CLI's `gh auth token`, else a prompt. The
 * parsing is pure; the two programs are asked through `localTools`.
 */
import { spawnSync } from 'node:child_process'

/**
 * `owner/name` of a git remote's URL — https://github.com/acme/crm-sync(.git), git@github.com:acme/crm-sync.git,
 * ssh://git@github.com/acme/crm-sync.git, the same on a GitHub Enterprise Server host — or undefined.
 */
export function repositoryOfRemote(url: string): string | undefined {
  const text = url.trim()
  const scp = /^[^@/\s]+@[^:/\s]+:(.+)$/.exec(text)
  let path: string
  if (scp) path = scp[1] as string
  else {
    try {
      path = new URL(text).pathname
    } catch {
      return undefined
    }
  }
  const parts = path
    .replace(/\.git\/?$/, '')
    .split('/')
    .filter(Boolean)
  if (parts.length < 2) return undefined
  return parts.slice(-2).join('/')
}

/** The host whose `gh auth token` is asked: api.github.com → github.com; https://ghe.example.com/api/v3 → ghe.example.com. */
export function gitHubHost(apiUrl: string): string {
  const host = new URL(apiUrl).host
  return host === 'api.github.com' ? 'github.com' : host
}

/** What init asks of the programs on this machine. */
export interface LocalTools {
  /** The folder's git remote 'origin' and the top of its work tree; each undefined outside a clone (or without git). */
  git(cwd: string): { origin: string | undefined; top: string | undefined }
  /** `gh auth token --hostname HOST`: undefined when the GitHub CLI is not installed or not logged in there. */
  ghToken(host: string): string | undefined
}

function run(command: string, args: string[], cwd?: string): string | undefined {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'ignore'] })
  return result.status === 0 && result.stdout.trim() !== '' ? result.stdout.trim() : undefined
}

export const localTools: LocalTools = {
  git: (cwd) => ({ origin: run('git', ['remote', 'get-url', 'origin'], cwd), top: run('git', ['rev-parse', '--show-toplevel'], cwd) }),
  ghToken: (host) => run('gh', ['auth', 'token', '--hostname', host])
}
