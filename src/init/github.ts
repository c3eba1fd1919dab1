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

const SCHEME = /^([a-z][a-z0-9+.-]*:\/\/)(.*)@/i
const SCP = /^([^@/\s]+)@([^:/\s]+):/

/**
 * A remote's URL fit to print: without its user and password (https://user:TOKEN@host/… →
 * https://host/…), which git keeps in the URL when a clone was made with them. The last '@' ends the
 * userinfo, so a password with an unencoded '@' or '/' goes too. The scp form's user (git@host:…)
 * stays, unless it holds a ':' (a password).
 */
export function printableRemote(url: string): string {
  const text = url.trim()
  if (SCHEME.test(text)) return text.replace(SCHEME, '$1')
  const scp = SCP.exec(text)
  return scp?.[1]?.includes(':') ? text.slice((scp[1] as string).length + 1) : text
}

/** The password of a remote's URL (https://user:PASSWORD@host/…), to be masked wherever it shows; undefined without one. */
export function remotePassword(url: string): string | undefined {
  const userinfo = SCHEME.exec(url.trim())?.[2] ?? SCP.exec(url.trim())?.[1]
  const at = userinfo?.indexOf(':') ?? -1
  return userinfo && at >= 0 && at < userinfo.length - 1 ? userinfo.slice(at + 1) : undefined
}

/** The host of a remote's URL, lower case (git@ghe.example.com:a/b.git → ghe.example.com); undefined if it has none. */
export function remoteHost(url: string): string | undefined {
  const text = printableRemote(url)
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) return /^(?:[^@/\s]+@)?([^:/\s]+):/.exec(text)?.[1]?.toLowerCase()
  try {
    return new URL(text).hostname.toLowerCase() || undefined
  } catch {
    return undefined
  }
}

/** The hosts of github.com's git remotes (ssh.github.com: SSH over port 443). */
export const GITHUB_COM_HOSTS: readonly string[] = ['github.com', 'www.github.com', 'ssh.github.com']

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
