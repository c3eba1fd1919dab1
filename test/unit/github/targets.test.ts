import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { requiredPermission, targetName, type Target } from '../../../src/github/targets.js'

const REPO: Target = { kind: 'repository', owner: 'acme', repo: 'crm-sync' }
const ENVIRONMENT: Target = { kind: 'environment', environment: 'production', owner: 'acme', repo: 'crm-sync' }
const ORG: Target = {
  kind: 'organization',
  org: 'acme',
  visibility: 'selected',
  selectedRepositories: [{ owner: 'acme', repo: 'crm-sync' }]
}

describe('targetName / requiredPermission', () => {
  test('targetName', () => {
    assert.equal(targetName(REPO), 'repository acme/crm-sync')
    assert.equal(targetName(ENVIRONMENT), "environment 'production' of acme/crm-sync")
    assert.equal(targetName(ORG), 'organization acme')
  })

  test('requiredPermission names the permission for each kind of token', () => {
    assert.equal(
      requiredPermission(REPO),
      'a fine-grained token needs the repository permission "Secrets: Read and write" on acme/crm-sync, a GitHub App token "secrets: write", a classic token the "repo" scope'
    )
    assert.equal(
      requiredPermission(ENVIRONMENT),
      'a fine-grained token needs the repository permissions "Secrets: Read and write" and "Environments: Read and write" on acme/crm-sync, a GitHub App token "secrets: write" and "environments: write", a classic token the "repo" scope'
    )
    assert.equal(
      requiredPermission(ORG),
      `a fine-grained token needs the organization permission "Secrets: Read and write" on acme${ORG.kind === 'organization' && ORG.selectedRepositories.length > 0 ? " and read access (Metadata) to every repository in 'selected-repositories'" : ''}, a GitHub App token "organization_secrets: write", a classic token the "admin:org" scope (and "repo" when a selected repository is private)`
    )
    assert.match(
      requiredPermission({
        kind: 'organization',
        org: 'acme',
        visibility: 'selected',
        selectedRepositories: [{ owner: 'acme', repo: 'x' }]
      }),
      /and read access \(Metadata\) to every repository in 'selected-repositories'/
    )
  })
})
