/**
 * The documentation's shell code, run the way users will run it:
 *
 * - every workflow step that pipes curl into something (README.md and README.ru.md workflows, the
 *   examples, CI) runs with the shell GitHub gives it (`bash -e {0}` when no `shell:` is written:
 *   no pipefail) against the amoCRM stand-in with a bad access token, and must fail on the 401;
 *   with a good token it must print the lead's people;
 * - the curl recipes of "From the PHP scripts to the action" (docs/migration.md, "The same requests
 *   by hand"; the same blocks in its Russian twin) run in order in one bash, with the values typed on
 *   standard input: exchange, refresh, the lead call, and the hand-over to `gh secret set` (a
 *   stand-in that records what it was given); no secret may appear in their output, and a refused
 *   exchange must store nothing;
 * - the Bitrix24 code exchange by hand (the same blocks in both docs/providers files) runs the same
 *   way against the Bitrix24 stand-in.
 *
 * Everything talks to 127.0.0.1 and is awaited: no timers.
 */
import assert from 'node:assert/strict'
import { execFile, spawnSync } from 'node:child_process'
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { parse } from 'yaml'
import { startAmoCrm, type AmoCrmServer } from '../../sandbox/standins/amocrm.js'
import { startBitrix24, type Bitrix24Server } from '../../sandbox/standins/bitrix24.js'
import { runStepScript, runSteps, type RunStep, type Workflow } from '../../sandbox/demo/consumer.js'
import { PROJECT_ROOT } from '../../sandbox/runner/runner.js'

const READMES = ['README.md', 'README.ru.md']

/** curl and jq run the snippets; CI installs them (.ci/run), elsewhere their absence skips these tests. */
const missing = ['curl', 'jq'].filter((tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0)
const skip = missing.length > 0 && !process.env.CI ? `${missing.join(' and ')} not installed` : false
const read = (file: string): string => readFileSync(join(PROJECT_ROOT, file), 'utf8')

/** The ```yaml blocks of a markdown file that are workflows (they have `jobs:`). */
function markdownWorkflows(file: string): Array<{ source: string; text: string }> {
  return [...read(file).matchAll(/^```ya?ml\n([\s\S]*?)^```$/gm)]
    .map((match, index) => ({ source: `${file} (yaml block ${index + 1})`, text: match[1] ?? '' }))
    .filter((block) => /^jobs:/m.test(block.text))
}

function yamlFiles(dir: string): Array<{ source: string; text: string }> {
  return readdirSync(join(PROJECT_ROOT, dir))
    .filter((name) => /\.ya?ml$/.test(name))
    .map((name) => ({ source: `${dir}/${name}`, text: read(join(dir, name)) }))
}

/** Every `run:` step, in the READMEs, the examples and CI, that pipes curl into another command. */
function curlPipeSteps(): RunStep[] {
  const workflows = [...READMES.flatMap(markdownWorkflows), ...yamlFiles('examples'), ...yamlFiles('.github/workflows')]
  return workflows
    .flatMap(({ source, text }) => runSteps(parse(text) as Workflow, source))
    .filter((step) => /\bcurl\b/.test(step.script) && /\|\s*(\n\s*)?\S/.test(step.script))
}

/**
 * A step's `env:` with what the test provides (the API address, the token, the lead) in place of
 * the workflow's values; any other expression is an error, so a new kind of step is noticed.
 */
function stepEnv(step: RunStep, values: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {}
  for (const [key, value] of Object.entries(step.env)) {
    if (key in values) env[key] = values[key] ?? ''
    else if (!value.includes('${{')) env[key] = value
    else throw new Error(`${step.source} › ${step.name}: no test value for env ${key} (${value})`)
  }
  return env
}

describe('workflow steps that pipe curl into jq', { skip }, () => {
  let amo: AmoCrmServer
  let goodToken: string
  const steps = curlPipeSteps()

  before(async () => {
    amo = await startAmoCrm()
    const response = await fetch(`${amo.url}/oauth2/access_token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        client_id: amo.clientId,
        client_secret: amo.clientSecret,
        redirect_uri: amo.redirectUri,
        grant_type: 'authorization_code',
        code: amo.issueCode()
      })
    })
    assert.equal(response.status, 200)
    goodToken = ((await response.json()) as { access_token: string }).access_token
  })
  after(async () => amo.close())

  const values = (token: string): Record<string, string> => ({ API_URL: `${amo.url}/api/v4`, ACCESS_TOKEN: token, LEAD_ID: '1001' })

  test('they are found: both READMEs, examples/rotate.yml, examples/consumer.yml and CI', () => {
    const sources = new Set(steps.map((step) => step.source.replace(/ \(yaml block \d+\)$/, '')))
    for (const source of ['README.md', 'README.ru.md', 'examples/rotate.yml', 'examples/consumer.yml', '.github/workflows/ci.yml']) {
      assert.ok(sources.has(source), `no curl step found in ${source}`)
    }
  })

  test('the premise: without pipefail (no shell: written), the step passes after a 401', async () => {
    const step = steps[0]
    assert.ok(step)
    const run = await runStepScript({ script: step.script, shell: undefined }, stepEnv(step, values('not-a-valid-token')))
    assert.equal(run.code, 0, 'bash -e alone lets `curl -f … | jq` pass: this is what shell: bash is for')
  })

  for (const step of steps) {
    test(`${step.source} › ${step.name}: fails on a 401`, async () => {
      const run = await runStepScript(step, stepEnv(step, values('not-a-valid-token')))
      assert.notEqual(run.code, 0, `the step passed after a 401 (shell: ${step.shell ?? 'none'}):\n${run.stdout}${run.stderr}`)
      assert.match(run.stderr, /401/)
    })

    test(`${step.source} › ${step.name}: prints the lead's people with a valid token`, async () => {
      const run = await runStepScript(step, stepEnv(step, values(goodToken)))
      assert.equal(run.code, 0, run.stderr)
      assert.deepEqual(JSON.parse(run.stdout), { lead_id: 1001, responsible_user_id: 8000001, main_contact_id: 5000001 })
      assert.ok(!(run.stdout + run.stderr).includes(goodToken), 'the token was printed')
    })
  }

  test("each README's workflow is examples/rotate.yml", () => {
    const example = read('examples/rotate.yml').trimEnd()
    for (const file of READMES) {
      const blocks = markdownWorkflows(file).map((block) => block.text.trimEnd())
      assert.ok(blocks.includes(example), `${file} has no workflow block equal to examples/rotate.yml`)
    }
  })
})

/**
 * A directory with a `gh` stand-in (`gh secret set` reads the value from standard input: it keeps
 * the value in `ghOut` and the arguments in `ghOut.args`) and an empty home.
 */
function shellDir(prefix: string): { dir: string; ghOut: string } {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  mkdirSync(join(dir, 'bin'))
  mkdirSync(join(dir, 'home'))
  writeFileSync(join(dir, 'bin', 'gh'), '#!/bin/sh\nprintf "%s " "$@" > "$GH_OUT.args"\ncat > "$GH_OUT"\n')
  chmodSync(join(dir, 'bin', 'gh'), 0o755)
  return { dir, ghOut: join(dir, 'gh.out') }
}

/** `script` in one bash, as typed into one terminal, with `input` typed at its prompts. */
async function runTyped(script: string, input: string[], dir: string, ghOut: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const child = execFile(
      'bash',
      ['--noprofile', '--norc', '-c', script],
      { env: { PATH: `${join(dir, 'bin')}:${process.env.PATH ?? ''}`, HOME: join(dir, 'home'), GH_OUT: ghOut } },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0
        resolve({ code, output: `${stdout}${stderr}` })
      }
    )
    child.stdin?.end(input.join('\n') + '\n')
  })
}

/** The documents that carry the curl recipes of "From the PHP scripts to the action". */
const RECIPE_DOCS = ['docs/migration.md', 'docs/migration.ru.md']

/** The ```bash blocks of a document's "The same requests by hand" section (`by-hand`), in order. */
function recipeBlocks(file: string): string[] {
  const text = read(file)
  const start = text.indexOf('<!-- section: by-hand -->')
  assert.ok(start >= 0, `${file} has no by-hand section`)
  const next = text.indexOf('<!-- section: ', start + 1)
  const end = next < 0 ? text.length : next
  return [...text.slice(start, end).matchAll(/^```bash\n([\s\S]*?)^```$/gm)].map((match) => match[1] ?? '')
}

describe('the curl recipes of "From the PHP scripts to the action"', { skip }, () => {
  let amo: AmoCrmServer
  let dir: string
  let ghOut: string

  before(async () => {
    amo = await startAmoCrm()
    ;({ dir, ghOut } = shellDir('recipes-'))
  })
  after(async () => {
    await amo.close()
    rmSync(dir, { recursive: true, force: true })
  })

  /** The recipes, in order, in one bash (as typed into one terminal), the account pointed at the stand-in. */
  async function runRecipes(input: string[]): Promise<{ code: number; output: string }> {
    rmSync(ghOut, { force: true })
    const script = recipeBlocks(RECIPE_DOCS[0] ?? '')
      .join('\n')
      .replace(/^account=.*$/m, `account=${amo.url}`)
    return runTyped(script, input, dir, ghOut)
  }

  test('both languages of docs/migration carry the same recipes, with set -o pipefail and no secret on a command line', () => {
    const english = recipeBlocks(RECIPE_DOCS[0] ?? '')
    assert.ok(english.length > 0, `${RECIPE_DOCS[0]} has no recipes`)
    for (const file of RECIPE_DOCS) assert.deepEqual(recipeBlocks(file), english, `${file} differs from ${RECIPE_DOCS[0]}`)
    const all = english.join('\n')
    assert.match(all, /^set -o pipefail$/m)
    assert.match(all, /read -rsp 'Secret key: ' client_secret/)
    assert.match(all, /--data @-/)
    assert.match(all, /-H @-/)
    assert.doesNotMatch(all, /Bearer \$|-d ['"]?\{|client_secret=\$/, 'a secret would be expanded on a command line')
  })

  test('exchange, refresh, the lead call and the hand-over work, and print no secret', async () => {
    const code = amo.issueCode()
    const issuedBefore = amo.issued.length
    const run = await runRecipes([amo.clientId, amo.redirectUri, amo.clientSecret, code])
    assert.equal(run.code, 0, run.output)

    const issued = amo.issued.slice(issuedBefore)
    assert.deepEqual(
      issued.map((pair) => pair.grant),
      ['authorization_code', 'refresh_token']
    )
    assert.match(run.output, /"responsible_user_id": 8000001/)
    assert.match(run.output, /"main_contact_id": 5000001/)
    assert.equal(readFileSync(ghOut, 'utf8'), issued[1]?.refresh_token, 'gh secret set got the newest refresh token')
    assert.equal(readFileSync(`${ghOut}.args`, 'utf8').trim(), 'secret set AMOCRM_REFRESH_TOKEN --repo owner/name')
    for (const secret of [amo.clientSecret, code, ...issued.flatMap((pair) => [pair.access_token, pair.refresh_token])]) {
      assert.ok(!run.output.includes(secret), 'a secret was printed')
    }
  })

  test('a refused exchange is reported, the lead call fails, and nothing is stored', async () => {
    const issuedBefore = amo.issued.length
    const run = await runRecipes([amo.clientId, amo.redirectUri, 'not-the-secret-key', amo.issueCode()])
    assert.match(run.output, /refused: .*Check the `client_secret` parameter/)
    assert.match(run.output, /curl: \(22\).*401/, 'the lead call fails on the 401 instead of printing nulls')
    assert.doesNotMatch(run.output, /responsible_user_id/)
    assert.equal(amo.issued.length, issuedBefore)
    assert.ok(!existsSync(ghOut), 'gh secret set ran after a refused exchange')
    assert.ok(!run.output.includes('not-the-secret-key'))
  })
})

/** The documents that carry the Bitrix24 code exchange by hand (the READMEs link to them). */
const BITRIX24_DOCS = ['docs/providers.md', 'docs/providers.ru.md']

/** A document's ```bash blocks about Bitrix24, in order, without the indentation of the list they stand in. */
function bitrix24Blocks(file: string): string[] {
  return [...read(file).matchAll(/^( *)```bash\n([\s\S]*?)^ *```$/gm)]
    .map((match) => {
      const indent = new RegExp(`^ {0,${(match[1] ?? '').length}}`, 'gm')
      return (match[2] ?? '').replace(indent, '')
    })
    .filter((block) => /bitrix/i.test(block))
}

describe('the Bitrix24 code exchange by hand', { skip }, () => {
  let b24: Bitrix24Server
  let dir: string
  let ghOut: string

  before(async () => {
    b24 = await startBitrix24()
    ;({ dir, ghOut } = shellDir('bitrix24-'))
  })
  after(async () => {
    await b24.close()
    rmSync(dir, { recursive: true, force: true })
  })

  /** Both blocks in one bash, the authorization server pointed at the stand-in. */
  async function runExchange(input: string[]): Promise<{ code: number; output: string }> {
    rmSync(ghOut, { force: true })
    rmSync(`${ghOut}.args`, { force: true })
    const script = bitrix24Blocks(BITRIX24_DOCS[0] ?? '')
      .join('\n')
      .replace(/^server=.*$/m, `server=${b24.url}`)
    return runTyped(script, input, dir, ghOut)
  }

  test('both languages of docs/providers carry the same two blocks, with set -o pipefail and no secret on a command line', () => {
    const english = bitrix24Blocks(BITRIX24_DOCS[0] ?? '')
    assert.equal(english.length, 2)
    for (const file of BITRIX24_DOCS) assert.deepEqual(bitrix24Blocks(file), english, `${file} differs from ${BITRIX24_DOCS[0]}`)
    const all = english.join('\n')
    assert.match(all, /^set -o pipefail$/m)
    assert.match(all, /read -rsp 'client_secret: ' client_secret/)
    assert.match(all, /--data @-/)
    assert.doesNotMatch(all, /client_secret=\$|code=\$/, 'a secret would be expanded on a command line')
  })

  test('a fresh code buys a pair whose refresh token goes to gh secret set, and no secret is printed', async () => {
    const code = b24.issueCode()
    const issuedBefore = b24.issued.length
    const run = await runExchange([b24.clientId, b24.clientSecret, code])
    assert.equal(run.code, 0, run.output)
    const issued = b24.issued.slice(issuedBefore)
    assert.equal(issued.length, 1)
    assert.match(run.output, new RegExp(`"member_id": "${b24.memberId}"`))
    assert.equal(readFileSync(ghOut, 'utf8'), b24.currentRefreshToken(), 'gh secret set got the current refresh token')
    assert.equal(readFileSync(`${ghOut}.args`, 'utf8').trim(), 'secret set BITRIX24_REFRESH_TOKEN --repo owner/name')
    for (const secret of [b24.clientSecret, code, issued[0]?.access_token ?? '', issued[0]?.refresh_token ?? '']) {
      assert.ok(secret && !run.output.includes(secret), 'a secret was printed')
    }
  })

  test('a code past its 30 seconds is refused, and nothing is stored', async () => {
    const code = b24.issueCode()
    b24.expireCode(code)
    const issuedBefore = b24.issued.length
    const run = await runExchange([b24.clientId, b24.clientSecret, code])
    assert.match(run.output, /refused: .*invalid_grant/)
    assert.equal(b24.issued.length, issuedBefore)
    assert.ok(!existsSync(ghOut), 'gh secret set ran after a refused exchange')
    assert.ok(!run.output.includes(b24.clientSecret))
  })
})
