/**
 * The init command: one account's token rotation set up from a terminal, or from a script.
 *
 *   1. the repository (git remote 'origin', or --repo) and a token that can write its secrets and
 *      variables — proven with the action's probe before anything is asked
 *   2. what the provider needs, each answer validated by the action's own input rules (readSettings)
 *   3. the workflow file (workflow.ts), with a schedule of its own (schedule.ts)
 *   4. the secrets, and a rescue key pair whose public half goes into a repository variable
 *   5. the first exchange and the store — the action's own run (rotate.ts), so the same rules keep
 *      the new refresh token: proven write access, the sealed store, and a rescue line sealed to the
 *      new key printed when the store fails or a signal comes after the spend
 *   6. what was done, and the next step
 *
 * Nothing secret is printed (every line is redacted, as the action's are), except the rescue private
 * key, once, when the output is a terminal and no --rescue-key-file was named. Before the first token
 * is spent, stopping loses nothing: running init again overwrites what it wrote (a --rescue-key-file it
 * wrote is used again, when the repository variable holds its public half or none).
 */
import { accessSync, constants, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { CancelGuard, type CancelBudget } from '../critical.js'
import { ActionError, errorMessage, InputError } from '../errors.js'
import { createOctokit } from '../github/client.js'
import { GitHubError } from '../github/errors.js'
import type { GitHubDeps } from '../github/request.js'
import { GitHubSecretStore } from '../github/secrets.js'
import type { RepoRef } from '../github/targets.js'
import { GitHubVariables } from '../github/variables.js'
import { rawFetchFor, USER_AGENT } from '../http.js'
import { probeName, readSettings, type Settings } from '../inputs.js'
import { messages } from '../messages.js'
import { entryOf, PROVIDERS } from '../providers/registry.js'
import { exchangeToken } from '../providers/token-endpoint.js'
import { SecretRegistry, inertOldCommands } from '../redact.js'
import { normalizeKey } from '../rescue/rescue.js'
import { generateKeyPair, publicKeyOf } from '../rescue/sealing.js'
import { backoffBaseMs, type RetryPolicy } from '../retry.js'
import { probeFor, rotate } from '../rotate.js'
import { parseSecureUrl } from '../url.js'
import { envName, FlagError, HELP, parseFlags, type Given, type InitFlags } from './flags.js'
import { GITHUB_COM_HOSTS, gitHubHost, printableRemote, remoteHost, remotePassword, repositoryOfRemote, type LocalTools } from './github.js'
import { FIRST_TOKEN, providerQuestion, questionsFor, type Question } from './questions.js'
import { describeSchedule, describeTime, nextRun, schedule, type Random, type Schedule } from './schedule.js'
import { Cancelled, type Terminal } from './terminal.js'
import { defaultPrefix, namesOf, SECRETS_TOKEN, workflowText, type Names } from './workflow.js'

export interface InitDeps {
  /** The arguments after `init`. */
  argv: readonly string[]
  env: NodeJS.ProcessEnv
  cwd: string
  terminal: Terminal
  tools: LocalTools
  random: Random
  now: () => Date
  /** Minutes east of UTC of the local time zone at `date`. */
  localOffset: (date: Date) => number
  /** Ends the process: a signal before the first token was spent. */
  exit: (code: number) => never
}

const GITHUB_TIMEOUT_MS = 20_000
const TOKEN_ENDPOINT_TIMEOUT_MS = 30_000
const MAX_RETRY_WAIT_MS = 60_000

/**
 * How long init goes on storing after a signal that came once the first token was spent. The
 * action's default (5 s after SIGINT) is made for the runner, which kills at 10 s; at a terminal
 * nobody kills init, and the token endpoint may take up to TOKEN_ENDPOINT_TIMEOUT_MS to answer, then
 * the GitHub writes follow. So a Ctrl-C after the spend lets the exchange and the store finish (or the
 * rescue line print): with the default budget, an answer slower than 5 s was thrown away.
 */
const INIT_BUDGET: CancelBudget = { budgetMs: 120_000, afterTermMs: 120_000 }
/** SIGHUP: the terminal was closed. Like Ctrl-C: before the spend init stops, after it init stores first. */
const INIT_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP']

/** Where an answer came from when init asked for it. */
const PROMPT = 'prompt'
/** The grant's inputs: the first token. */
const GRANTS = ['authorization-code', 'refresh-token']
/** A valid rescue public key (32 bytes, not of small order), standing in for the one init makes, while inputs are checked. */
const EXAMPLE_KEY = Buffer.alloc(32, 7).toString('base64')

/** What a workflow keeps authorized, in its first line. */
const WHAT: Record<string, (host: string) => string> = {
  amocrm: () => 'an amoCRM / Kommo integration',
  kommo: () => 'an amoCRM / Kommo integration',
  bitrix24: () => 'a Bitrix24 local application',
  oauth2: (host) => `an OAuth 2.0 integration with ${host}`
}

const STOPPED = 'Stopped before the first token was spent: nothing is lost. Run init again to finish; it overwrites what it wrote so far.'

/** Runs init; the exit code: 0 done, 1 failed, 2 a mistake in the flags (nothing was done), 130 stopped. */
export async function runInit(deps: InitDeps): Promise<number> {
  const secrets = new SecretRegistry()
  const safe = (text: string): string => inertOldCommands(secrets.redact(text))
  const term = deps.terminal
  const guard = new CancelGuard(
    () => {
      term.error(STOPPED)
      deps.exit(130)
    },
    (message) => term.print(message),
    INIT_BUDGET,
    INIT_SIGNALS
  )
  guard.install()
  try {
    return await new Init(deps, guard, secrets, safe).run()
  } catch (error) {
    if (error instanceof Cancelled) {
      term.error(STOPPED)
      return 130
    }
    const message = error instanceof ActionError ? error.message : messages.bug(errorMessage(error), false)
    term.error(`init: ${safe(message)}`)
    return error instanceof FlagError ? 2 : 1
  } finally {
    guard.uninstall()
  }
}

class Init {
  private readonly term: Terminal
  private flags!: InitFlags
  private readonly answers = new Map<string, Given>()
  private interactive = false
  private repository = ''
  private repositoryFrom = ''
  private apiUrl = ''
  private apiFrom = ''
  private token = ''
  private tokenFrom = ''
  /** A --rescue-key-file that exists: its private key (an earlier init's, to use again), and its public half. */
  private existingKey: { privateKey: string; publicKey: string } | undefined

  constructor(
    private readonly deps: InitDeps,
    private readonly guard: CancelGuard,
    private readonly secrets: SecretRegistry,
    private readonly safe: (text: string) => string
  ) {
    this.term = deps.terminal
  }

  private print(text: string): void {
    this.term.print(this.safe(text))
  }

  async run(): Promise<number> {
    const { deps, term } = this
    this.flags = parseFlags(deps.argv, deps.env)
    if (this.flags.help) {
      term.print(HELP)
      return 0
    }
    for (const [input, given] of this.flags.answers) {
      this.answers.set(input, given)
      if (input === 'client-secret' || GRANTS.includes(input)) this.secrets.add(given.value)
    }
    this.interactive = term.interactive && !this.flags.nonInteractive
    const folder = deps.tools.git(deps.cwd)
    const root = folder.top ?? deps.cwd

    // Everything that can be checked here is, before any request.
    this.findRepository(folder.origin)
    this.findApiUrl()
    this.checkRemoteHost(folder.origin)
    const keyFile = this.checkKeyFile()
    this.checkWorkflowFolder(root)
    this.check()
    if (!this.interactive) this.requireAnswers()
    if (!this.interactive || this.flags.options['workflow-file'] !== undefined) this.workflowPath(root)

    // 1. The token, proven able to write before anything is asked.
    term.print(`1. GitHub: ${this.repository} at ${this.apiUrl}`)
    this.findToken()
    await this.askToken()
    this.print(`  The token from ${this.tokenFrom}.`)
    const [owner = '', repo = ''] = this.repository.split('/')
    const ref: RepoRef = { owner, repo }
    const github = this.gitHubDeps()
    const store = new GitHubSecretStore({ kind: 'repository', ...ref }, github)
    const variables = new GitHubVariables(ref, github)
    await this.proveWriteAccess(store, variables)

    // 2. The provider.
    term.print('\n2. The provider')
    const provider = await this.askProvider()
    await this.askAll(questionsFor(provider).filter((q) => !GRANTS.includes(q.input)))
    const names = namesOf(this.prefix())
    await this.checkExistingKey(variables, names, keyFile)

    // 3. The workflow.
    const path = this.workflowPath(root)
    const picked = schedule(deps.random, provider === 'bitrix24')
    term.print(`\n3. The workflow ${relative(deps.cwd, path) || path}`)
    await this.writeWorkflow(path, this.workflow(provider, names, picked), picked)

    // 4. The secrets and the rescue key.
    term.print('\n4. Secrets and the rescue key')
    const tokenStored = await this.writeSecrets(store, names)
    const publicKey = await this.rescueKey(variables, names, keyFile)

    // 5. The first exchange: the action's own run.
    term.print('\n5. The first exchange')
    const grant = await this.askGrant(provider)
    const settings = this.settings(publicKey)
    const report = await this.exchange(settings, store)
    if (report.failure) {
      // The action's own sentence; init has no job summary to repeat the rescue line in.
      term.error(`init: ${this.safe(report.failure.replace(' (also in the job summary)', ''))}`)
      if (report.refreshStored !== undefined) {
        // The refresh token is in its secret (what failed came after, e.g. the access token's store):
        // the chain holds, and a new code would only spend it. What is next is the same.
        this.summary(path, names, picked, tokenStored, report.accessStored !== undefined, true)
        return this.guard.signal ? 130 : 1
      }
      if (report.rescueLine) {
        this.print(
          `To store the refresh token from the rescue line above: copy the line into rescue.txt, then\n  npx -y github:amocrm-actions/token-rotation#v1 open rescue.txt --key-file ${keyFile ?? 'key.txt'} --field refresh_token |\n    gh secret set ${names.refreshToken} --repo ${this.repository}`
        )
      } else if (!report.spent || grant === 'authorization-code') {
        this.print(
          `Run init again with a new ${grant === 'authorization-code' ? 'authorization code' : 'refresh token'} (it overwrites what it wrote), or commit the workflow and run it by hand with a new code.`
        )
      }
      return this.guard.signal ? 130 : 1
    }

    // 6. What was done, and what is next.
    this.summary(path, names, picked, tokenStored, settings.accessTokenSecret === undefined || report.accessStored !== undefined, false)
    return this.guard.signal ? 130 : 0
  }

  // ---- before any request -----------------------------------------------------------------------

  private findRepository(origin: string | undefined): void {
    const given = this.flags.options.repo
    if (given !== undefined) {
      this.repository = given
      this.repositoryFrom = '--repo'
      return
    }
    if (origin === undefined) {
      throw new FlagError(
        "This folder has no git remote 'origin' to name the repository: run init in a clone of it, or pass --repo OWNER/NAME."
      )
    }
    // A remote cloned with credentials keeps them in its URL: never printed, and masked besides.
    this.secrets.add(remotePassword(origin) ?? '')
    const shown = printableRemote(origin).slice(0, 100)
    const found = repositoryOfRemote(origin)
    if (!found) {
      throw new FlagError(`The git remote 'origin' of this folder (${shown}) does not name a GitHub repository: pass --repo OWNER/NAME.`)
    }
    this.repository = found
    this.repositoryFrom = `The git remote 'origin' (${shown})`
  }

  /**
   * A repository named by a remote that is not on github.com, with no API address given: the default
   * (api.github.com) would be the wrong GitHub, so init stops before it asks anything.
   */
  private checkRemoteHost(origin: string | undefined): void {
    if (this.flags.options.repo !== undefined || origin === undefined || this.apiFrom !== 'the default') return
    const host = remoteHost(origin)
    if (host === undefined || GITHUB_COM_HOSTS.includes(host)) return
    throw new FlagError(
      `The git remote 'origin' (${printableRemote(origin).slice(0, 100)}) is on ${host.slice(0, 60)}, not github.com, and no --api-url was given: for GitHub Enterprise Server pass --api-url https://${host.slice(0, 60)}/api/v3 (or set GITHUB_API_URL); for a repository on github.com, pass --repo OWNER/NAME.`
    )
  }

  private findApiUrl(): void {
    const flag = this.flags.options['api-url']
    const fromEnv = this.deps.env.GITHUB_API_URL
    this.apiFrom = flag !== undefined ? '--api-url' : fromEnv ? 'GITHUB_API_URL' : 'the default'
    try {
      this.apiUrl = parseSecureUrl('github-api-url', flag ?? fromEnv ?? '') ?? 'https://api.github.com'
    } catch (error) {
      throw this.flagProblem(error)
    }
  }

  private checkKeyFile(): string | undefined {
    const path = this.flags.options['rescue-key-file']
    if (path === undefined) {
      if (!this.term.screen && this.flags.options['rescue-public-key'] === undefined) {
        throw new FlagError(
          'init needs --rescue-key-file PATH: the output is not a terminal, and the rescue private key is never printed where a log may keep it (or pass --rescue-public-key KEY to use a key pair you have).'
        )
      }
      return undefined
    }
    if (existsSync(path)) {
      // An earlier init's key file (that run stopped before its end): used again if it holds a key.
      let privateKey: string
      try {
        privateKey = normalizeKey(readFileSync(path, 'utf8').trim())
      } catch (error) {
        throw new FlagError(
          `--rescue-key-file ${path} exists and is not a rescue private key (${errorMessage(error)}): init never overwrites a key file; name a new one.`
        )
      }
      this.existingKey = { privateKey, publicKey: '' }
      return path
    }
    const dir = dirname(path)
    if (!existsSync(dir) || !statSync(dir).isDirectory()) {
      throw new FlagError(`--rescue-key-file ${path}: its folder ${dir} does not exist; create it, or name a file in a folder that does.`)
    }
    if (!writable(dir))
      throw new FlagError(`--rescue-key-file ${path}: its folder ${dir} is not writable; name a file in a folder you can write.`)
    return path
  }

  /** The workflow's folder can be made and written (the nearest folder of it that exists is writable). */
  private checkWorkflowFolder(root: string): void {
    let dir = join(root, '.github', 'workflows')
    while (!existsSync(dir) && dirname(dir) !== dir) dir = dirname(dir)
    if (!statSync(dir).isDirectory()) {
      throw new FlagError(
        `${dir} is a file, not a folder: init writes the workflow to ${join(root, '.github', 'workflows')}; move the file away.`
      )
    }
    if (!writable(dir)) throw new FlagError(`${dir} is not writable: init writes the workflow there; run it as a user who can write it.`)
  }

  /**
   * A --rescue-key-file that exists is used again when the repository variable holds its public half
   * (an earlier init stopped after step 4), or holds no key yet (it stopped between the file and the
   * variable); a variable with another key means the file is not this set-up's: refused, nothing written.
   */
  private async checkExistingKey(variables: GitHubVariables, names: Names, keyFile: string | undefined): Promise<void> {
    const existing = this.existingKey
    if (!existing || this.flags.options['rescue-public-key'] !== undefined) return
    existing.publicKey = await publicKeyOf(existing.privateKey)
    const held = await variables.get(names.rescueKey)
    if (held !== undefined && held.trim() !== existing.publicKey) {
      throw new FlagError(
        `--rescue-key-file ${keyFile ?? ''} exists, and its public half is not the key in the ${variables.describe(names.rescueKey)}: init never overwrites a key file; name a new one with --rescue-key-file (or the file whose key the variable holds).`
      )
    }
  }

  /** The workflow file's path; a file that exists is an error now when nobody can be asked (and no --yes). */
  private workflowPath(root: string): string {
    const file = this.flags.options['workflow-file'] ?? namesOf(this.prefix()).file
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]*\.ya?ml$/.test(file)) {
      throw new FlagError(
        `--workflow-file must be a file name ending in .yml (e.g. amocrm-token.yml): it is written to .github/workflows/; got '${file.slice(0, 60)}'.`
      )
    }
    const path = join(root, '.github', 'workflows', file)
    if (!this.interactive && !this.flags.yes && existsSync(path)) {
      throw new FlagError(`${path} exists: pass --yes to overwrite it, or --workflow-file NAME to write another file.`)
    }
    return path
  }

  /** Each answer required and not given, in non-interactive mode: refused before any request. */
  private requireAnswers(): void {
    const provider = this.providerName()
    for (const q of questionsFor(provider)) {
      if (!q.required || this.answers.has(q.input) || GRANTS.includes(q.input)) continue
      throw new FlagError(
        `${this.askedBy(q.input)} is required: ${q.hint} (init asks nothing: its input is not a terminal, or --non-interactive).`
      )
    }
    if (!GRANTS.some((input) => this.answers.has(input))) {
      throw new FlagError(
        `${envName('authorization-code')} is required: the first token, a fresh authorization code (or ${envName('refresh-token')}: a refresh token, such as the one Bitrix24's install sent) (init asks nothing: its input is not a terminal, or --non-interactive).`
      )
    }
  }

  /** How an answer is given without a prompt: "--client-id (or TOKEN_ROTATION_CLIENT_ID)", or the variable alone for a secret. */
  private askedBy(input: string): string {
    return input === 'client-secret' || GRANTS.includes(input) ? envName(input) : `--${input} (or ${envName(input)})`
  }

  // ---- the answers, checked by the action's own rules --------------------------------------------

  private providerName(): string {
    const given = this.answers.get('provider')?.value.trim().toLowerCase()
    if (given) return given
    // Not asked yet: the provider whose inputs the flags give, else the default.
    const own = [...this.answers.keys()].filter((input) =>
      Object.values(PROVIDERS).some((e) => e.ownInputs.includes(input) || Object.hasOwn(e.ownDefaults ?? {}, input))
    )
    const owner = Object.entries(PROVIDERS).find(([, e]) =>
      own.every((input) => e.ownInputs.includes(input) || Object.hasOwn(e.ownDefaults ?? {}, input))
    )
    return owner?.[0] ?? 'amocrm'
  }

  private prefix(): string {
    const given = this.flags.options.prefix
    if (given !== undefined) return given.toUpperCase()
    const entry = entryOf(() => this.providerName()) ?? PROVIDERS.amocrm
    return defaultPrefix(entry.defaultSecret)
  }

  /** The action's settings from the answers (examples for those not known yet) and what init decided. */
  private settings(publicKey = EXAMPLE_KEY): Settings {
    const provider = this.providerName()
    const examples = new Map(questionsFor(provider).map((q) => [q.input, q.example]))
    const names = namesOf(this.prefix())
    const grant = GRANTS.find((input) => this.answers.has(input)) ?? 'authorization-code'
    const read = (name: string): string => {
      switch (name) {
        case 'provider':
          return provider
        case 'refresh-token-secret':
          return names.refreshToken
        case 'access-token-secret':
          return names.accessToken
        case 'github-token':
          return this.token || 'example-token'
        case 'repository':
          return this.repository
        case 'github-api-url':
          return this.apiUrl
        case 'rescue-public-key':
          return this.flags.options['rescue-public-key'] ?? publicKey
        case 'verify-write':
          return 'true'
        case 'alert':
          return 'none'
      }
      if (GRANTS.includes(name)) return name === grant ? (this.answers.get(name)?.value ?? examples.get(name) ?? 'code') : ''
      return this.answers.get(name)?.value ?? examples.get(name) ?? ''
    }
    return readSettings(read, {})
  }

  /**
   * The first answer the action's rules refuse, as an error for an answer given by flag or variable;
   * for one typed at a prompt, the problem (the caller asks again). An answer not known yet is not
   * a problem: its question's example stands in.
   */
  private check(): InputError | undefined {
    try {
      this.settings()
      return undefined
    } catch (error) {
      if (!(error instanceof InputError)) throw error
      const given = this.answers.get(error.input)
      if (given?.from === PROMPT) return error
      throw this.flagProblem(error)
    }
  }

  /** An InputError of the action, said of the flag, variable or place the value came from. */
  private flagProblem(error: unknown): Error {
    if (!(error instanceof InputError)) return error instanceof Error ? error : new Error(String(error))
    const labels: Record<string, string> = {
      'refresh-token-secret': '--prefix',
      'access-token-secret': '--prefix',
      repository: this.repositoryFrom,
      'github-api-url': this.apiFrom,
      'github-token': this.tokenFrom,
      'rescue-public-key': '--rescue-public-key'
    }
    const label = this.answers.get(error.input)?.from ?? labels[error.input] ?? `--${error.input}`
    return new FlagError(`${label} ${problemOf(error)}`)
  }

  // ---- 1. the token ------------------------------------------------------------------------------

  private findToken(): void {
    const { env, tools } = this.deps
    const fromEnv = env.GH_TOKEN ? 'GH_TOKEN' : env.GITHUB_TOKEN ? 'GITHUB_TOKEN' : undefined
    if (fromEnv) {
      this.token = (env[fromEnv] as string).trim()
      this.tokenFrom = fromEnv
    } else {
      const host = gitHubHost(this.apiUrl)
      const cli = tools.ghToken(host)
      if (cli) {
        this.token = cli
        this.tokenFrom = '`gh auth token`'
      } else if (!this.interactive) {
        throw new FlagError(
          `No GitHub token: set GH_TOKEN to a token that can write the secrets and variables of ${this.repository} (README: "Set up", step 2), or log in with the GitHub CLI (gh auth login --hostname ${host}).`
        )
      }
    }
    this.secrets.add(this.token)
    if (this.token) this.check()
  }

  private async askToken(): Promise<void> {
    while (!this.token) {
      this.term.print(
        `  A token that can write the secrets and variables of ${this.repository}: a fine-grained token with "Secrets" and "Variables: Read and write" (README: "Set up", step 2).`
      )
      this.token = (await this.term.ask('GitHub token: ', { hidden: true })).trim()
      this.tokenFrom = 'the prompt'
      this.secrets.add(this.token)
      if (/\s/.test(this.token)) {
        this.term.print('  That contains whitespace: paste the token again.')
        this.token = ''
      }
    }
  }

  private gitHubDeps(): GitHubDeps {
    const retry: RetryPolicy = {
      attempts: 4,
      baseMs: backoffBaseMs(this.deps.env),
      maxWaitMs: MAX_RETRY_WAIT_MS,
      isCancelled: () => this.guard.isCancelled(),
      sleep: (ms) => this.guard.sleep(ms)
    }
    return {
      octokit: createOctokit(this.token, this.apiUrl),
      retry,
      timeoutMs: GITHUB_TIMEOUT_MS,
      redact: (text) => this.secrets.redact(text),
      onRetry: (message) => this.print(`  ${message}`),
      // After a signal that came once the first token was spent, writes give up in time.
      deadline: this.guard.deadline
    }
  }

  private async proveWriteAccess(store: GitHubSecretStore, variables: GitHubVariables): Promise<void> {
    // Before anything is asked the provider, and so the names, may not be known: a neutral probe name then.
    const known = this.flags.options.prefix !== undefined || this.answers.has('provider')
    const names = namesOf(this.prefix())
    try {
      // The action's write check: a probe secret written and deleted (never a secret it did not create).
      const probe = await probeFor(store, known ? names.refreshToken : 'TOKEN_ROTATION', String(this.deps.now().getTime()), (m) =>
        this.print(`  ${m}`)
      )
      const written = await store.write(probe, `write check by ${USER_AGENT} init at ${this.deps.now().toISOString()}`, undefined, {
        probe: true
      })
      if (written !== 'updated') await store.delete(probe)
      // The same for a variable, which the rescue key goes into.
      const variable = probeName(known ? names.rescueKey : 'TOKEN_ROTATION')
      if ((await variables.set(variable, 'write check')) === 'created') await variables.delete(variable)
    } catch (error) {
      throw this.tokenProblem(error)
    }
    this.print(`  ✓ The token can write the secrets and variables of ${this.repository}.`)
  }

  /** A GitHub refusal at step 1, said of the token's source; nothing was asked or changed yet. */
  private tokenProblem(error: unknown): unknown {
    if (!(error instanceof GitHubError)) return error
    if (error.status === 401) {
      return new ActionError(
        `GitHub refused the token from ${this.tokenFrom} (401): it is invalid, expired or revoked. Create a new one (README: "Set up", step 2) and run init again. Nothing was asked or changed.`
      )
    }
    const said = error.message.replace(/'github-token'/g, `the token from ${this.tokenFrom}`)
    return new ActionError(
      error.status === 403
        ? `${said} Nothing was asked or changed: give a token that has it and run init again.`
        : `${said} Nothing was asked or changed.`
    )
  }

  // ---- 2. the questions --------------------------------------------------------------------------

  private async askProvider(): Promise<string> {
    if (!this.answers.has('provider') && this.interactive) await this.askAll([{ ...providerQuestion(), fallback: this.providerName() }])
    const name = this.providerName()
    this.print(`  Provider: ${name} (${(entryOf(() => name) ?? PROVIDERS.amocrm).label})`)
    return name
  }

  /** Asks each question not answered yet, again until the action's rules accept the answer. */
  private async askAll(questions: readonly Question[]): Promise<void> {
    for (let i = 0; i < questions.length; i++) {
      const q = questions[i] as Question
      if (this.answers.has(q.input)) continue
      if (!this.interactive) {
        // Nobody to ask: a required answer was checked up front; an optional one takes its default.
        this.answers.set(q.input, { value: q.fallback ?? '', from: 'its default' })
        continue
      }
      const answer = await this.ask(q)
      this.answers.set(q.input, { value: answer, from: PROMPT })
      const problem = this.check()
      if (problem) {
        this.print(`  ${problemOf(problem)}`)
        this.answers.delete(problem.input)
        // Ask the refused one again: this one, or one asked before it.
        const refused = questions.findIndex((other) => other.input === problem.input)
        if (refused < 0) throw new ActionError(`${problem.message} Run init again.`)
        i = Math.min(i, refused) - 1
      }
    }
  }

  private async ask(q: Question): Promise<string> {
    for (;;) {
      this.term.print(`  ${q.hint}`)
      const typed = (await this.term.ask(`${q.label}${q.fallback ? ` [${q.fallback}]` : ''}: `, { hidden: q.hidden })).trim()
      if (q.hidden) this.secrets.add(typed)
      const answer = typed || q.fallback || ''
      if (answer || !q.required) return answer
      this.term.print('  An answer is needed here.')
    }
  }

  // ---- 3. the workflow ---------------------------------------------------------------------------

  private workflow(provider: string, names: Names, picked: Schedule): string {
    const entry = entryOf(() => provider) ?? PROVIDERS.amocrm
    const built = this.settings().provider
    const own = [...entry.ownInputs, ...Object.keys(entry.ownDefaults ?? {})]
    const questions = questionsFor(provider)
    const order = [...new Set([...questions.map((q) => q.input).filter((input) => own.includes(input)), ...own])]
    const inputs = [
      ...(provider === 'amocrm' ? [] : [{ name: 'provider', value: provider }]),
      ...order.flatMap((input) => {
        const value = this.answers.get(input)?.value ?? ''
        const fallback = questions.find((q) => q.input === input)?.fallback
        return value === '' || value === fallback ? [] : [{ name: input, value, comment: input === 'subdomain' ? built.host : undefined }]
      })
    ]
    const label = provider === 'oauth2' ? `OAuth 2.0 (${built.host})` : entry.label
    const defaultNames = namesOf(defaultPrefix(entry.defaultSecret))
    return workflowText({
      provider,
      name: `${label} token${names.group === defaultNames.group ? '' : ` (${this.prefix()})`}`,
      what: WHAT[provider]?.(built.host) ?? `the ${entry.label} integration`,
      names,
      inputs,
      redirectUri: Boolean(this.answers.get('redirect-uri')?.value),
      refreshSecretInput: names.refreshToken !== entry.defaultSecret,
      codeInput: provider !== 'bitrix24',
      schedule: picked
    })
  }

  private async writeWorkflow(path: string, text: string, picked: Schedule): Promise<void> {
    const { term } = this
    const shown = relative(this.deps.cwd, path) || path
    if (this.interactive) term.print(text.replace(/^/gm, '    '))
    if (existsSync(path) && !this.flags.yes) {
      const answer = (await term.ask(`${shown} exists. Overwrite it? [y/N]: `)).trim()
      if (!/^y(es)?$/i.test(answer)) {
        term.print(`  Kept ${shown} as it is: check that it names the secrets and the variable below.`)
        return
      }
    }
    writeOrSay(path, 'the workflow', () => {
      mkdirSync(dirname(path), { recursive: true })
      writeFileSync(path, text)
    })
    term.print(`  ✓ Wrote ${shown} (${describeSchedule(picked)}).`)
  }

  // ---- 4. secrets and the rescue key ---------------------------------------------------------------

  private async writeSecrets(store: GitHubSecretStore, names: Names): Promise<boolean> {
    const value = (input: string): string => this.answers.get(input)?.value ?? ''
    const writes: Array<[string, string]> = [
      [names.clientId, value('client-id')],
      [names.clientSecret, value('client-secret')],
      ...(value('redirect-uri') ? [[names.redirectUri, value('redirect-uri')] as [string, string]] : [])
    ]
    for (const [name, secret] of writes) this.print(`  ✓ ${store.describe(name)} (${await store.write(name, secret)})`)
    const existing = await store.metadata(SECRETS_TOKEN)
    let storeToken = this.flags.storeToken
    if (!storeToken && !existing.exists && this.interactive) {
      const cli = this.tokenFrom === '`gh auth token`'
      this.term.print(
        cli
          ? `  The workflow reads its github-token from the secret ${SECRETS_TOKEN}, which does not exist yet. This token is the GitHub CLI's own and can do far more than the workflow needs: answer n, and store a fine-grained token instead (README: "Set up", step 2).`
          : `  The workflow reads its github-token from the secret ${SECRETS_TOKEN}, which does not exist yet: this token can be it.`
      )
      const answer = (await this.term.ask(`Store this token as the secret ${SECRETS_TOKEN}? [${cli ? 'y/N' : 'Y/n'}]: `)).trim()
      storeToken = answer === '' ? !cli : /^y(es)?$/i.test(answer)
    }
    if (storeToken) {
      this.print(`  ✓ ${store.describe(SECRETS_TOKEN)} (${await store.write(SECRETS_TOKEN, this.token)})`)
      return true
    }
    this.print(
      existing.exists ? `  ${store.describe(SECRETS_TOKEN)} exists: left as it is.` : `  ${SECRETS_TOKEN} is not set (see the last step).`
    )
    return existing.exists
  }

  private async rescueKey(variables: GitHubVariables, names: Names, keyFile: string | undefined): Promise<string> {
    let publicKey = this.flags.options['rescue-public-key']
    if (publicKey === undefined && this.existingKey && keyFile) {
      publicKey = this.existingKey.publicKey
      this.print(`  ✓ The rescue key pair whose private key is in ${keyFile}, which an earlier init wrote: used again.`)
    } else if (publicKey === undefined) {
      const pair = await generateKeyPair()
      publicKey = pair.publicKey
      if (keyFile) {
        // 'wx': never over an existing file; 0600: only its owner reads it.
        writeOrSay(keyFile, 'the rescue key file', () => writeFileSync(keyFile, `${pair.privateKey}\n`, { mode: 0o600, flag: 'wx' }))
        this.print(
          `  ✓ A new rescue key pair: the private key is in ${keyFile} (mode 0600). Move it where only you can read it (a password manager) and delete the file; it opens a rescue line (README: "Rescue").`
        )
      } else {
        this.term.print(
          [
            '  A new rescue key pair. Its private key, shown this once: keep it offline (a password manager), never in GitHub;',
            '  it opens a rescue line, should a run ever print one (README: "Rescue").',
            `    ${pair.privateKey}`
          ].join('\n')
        )
      }
    }
    this.print(
      `  ✓ ${variables.describe(names.rescueKey)} holds the rescue public key (${await variables.set(names.rescueKey, publicKey)}).`
    )
    return publicKey
  }

  // ---- 5. the first exchange ---------------------------------------------------------------------

  private async askGrant(provider: string): Promise<string> {
    const given = GRANTS.find((input) => this.answers.has(input))
    if (given) return given
    const questions = questionsFor(provider).filter((q) => GRANTS.includes(q.input))
    let chosen = questions[0] as Question
    if (questions.length > 1) {
      for (;;) {
        const answer = (await this.ask(FIRST_TOKEN)).toLowerCase()
        const found = questions.find((q) => (answer === 'code' ? 'authorization-code' : answer) === q.input)
        if (found) {
          chosen = found
          break
        }
        this.term.print('  Answer code or refresh-token.')
      }
    }
    await this.askAll([chosen])
    return chosen.input
  }

  private exchange(settings: Settings, store: GitHubSecretStore): ReturnType<typeof rotate> {
    const { guard } = this
    const github = this.gitHubDeps()
    const say = (message: string): void => this.print(`  ${message}`)
    const started = this.deps.now()
    const providerFetch = rawFetchFor(settings.provider.origin)
    return rotate(settings, {
      io: { info: say, warning: (m) => say(`Warning: ${m}`), setOutput: () => undefined, exportVariable: () => undefined },
      store,
      exchange: (request) =>
        exchangeToken(request, {
          fetch: providerFetch,
          // Once stopped, no new attempt spends a token there may be no time left to store.
          retry: { ...github.retry, signal: guard.cancelled },
          timeoutMs: TOKEN_ENDPOINT_TIMEOUT_MS,
          deadline: guard.deadline,
          mask: (value) => this.secrets.add(value),
          redact: (text) => this.secrets.redact(text),
          onRetry: say
        }),
      guard,
      now: () => this.deps.now(),
      jobStartedAt: started,
      // No workflow run: the secret as init found it is the one this exchange follows.
      runTimes: () => Promise.resolve({ createdAt: started, runStartedAt: started, attempt: 1 }),
      storedInThisJob: undefined,
      recheckMs: [1, 2, 4].map((n) => n * Math.max(github.retry.baseMs, 250)),
      sleep: (ms) => guard.sleep(ms)
    })
  }

  // ---- 6. the summary ----------------------------------------------------------------------------

  private summary(path: string, names: Names, picked: Schedule, tokenStored: boolean, accessStored: boolean, failed: boolean): void {
    const shown = relative(this.deps.cwd, path) || path
    const first = nextRun(picked, this.deps.now())
    const secretsList = [names.clientId, names.clientSecret]
    if (this.answers.get('redirect-uri')?.value) secretsList.push(names.redirectUri)
    secretsList.push(names.refreshToken)
    if (accessStored) secretsList.push(names.accessToken)
    const lines = [
      '',
      `6. ${failed ? `The refresh token is stored in ${names.refreshToken}; only the failure above is left to fix.` : 'Done.'} ${this.repository} has the secrets ${secretsList.join(', ')}${tokenStored ? ` and ${SECRETS_TOKEN}` : ''}, and the variable ${names.rescueKey}; the workflow is ${shown}.`,
      'Next:',
      `  - commit the workflow and push it to the default branch (a schedule runs only from there):`,
      `      git add ${shown} && git commit -m "Rotate the token of ${names.refreshToken}" && git push`
    ]
    if (!tokenStored) {
      lines.push(
        `  - store a token that can write secrets as ${SECRETS_TOKEN} (README: "Set up", step 2): gh secret set ${SECRETS_TOKEN} --repo ${this.repository}`
      )
    }
    lines.push(
      `  - the first scheduled run: ${describeTime(first, this.deps.localOffset(first))}; GitHub may start a scheduled run some minutes late.`
    )
    this.print(lines.join('\n'))
  }
}

/** Whether this process can write into `dir`. */
function writable(dir: string): boolean {
  try {
    accessSync(dir, constants.W_OK)
    return true
  } catch {
    return false
  }
}

/** A write of init's own file; its failure (EACCES, EROFS, ENOSPC, …) said with the path, before any token is spent. */
function writeOrSay(path: string, what: string, write: () => void): void {
  try {
    write()
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    throw new ActionError(
      `Could not write ${what} ${path}${code ? ` (${code})` : ''}: ${errorMessage(error)}. No token was spent: free the space or fix the permissions, and run init again.`
    )
  }
}

/** What an InputError says after "Input 'name' ". */
const problemOf = (error: InputError): string => error.message.slice(`Input '${error.input}' `.length)
