/**
 * The seed's consumer example: after the action, a step uses its outputs (api-url, access-token)
 * to read a lead's responsible user and main contact. The step's script is taken from
 * examples/rotate.yml (the README's workflow) and run with bash, curl and jq.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { leadPeople } from '../../sandbox/demo/consumer.js'
import { sandbox, type Sandbox } from './harness.js'

describe('the lead example, with the action’s outputs', () => {
  let box: Sandbox
  let outputs: Record<string, string>
  before(async () => {
    box = await sandbox()
    box.seed()
    const run = await box.run(box.inputs())
    assert.equal(run.code, 0, run.log)
    outputs = run.outputs
  })
  after(async () => box.close())

  const cases: Array<[string, number, number | null]> = [
    ['1001', 8000001, 5000001],
    ['1002', 8000002, 5000003],
    ['1003', 8000001, null]
  ]
  for (const [lead, responsible, mainContact] of cases) {
    test(`lead ${lead}: responsible user ${responsible}, main contact ${mainContact}`, async () => {
      const { result, how } = await leadPeople(outputs['api-url'] ?? '', outputs['access-token'] ?? '', lead)
      assert.deepEqual(result, { lead_id: Number(lead), responsible_user_id: responsible, main_contact_id: mainContact })
      if (process.env.CI) assert.match(how, /curl \+ jq/, 'CI installs curl and jq, so the workflow step itself ran')
    })
  }

  test('a wrong access token is refused by the API: the step fails instead of printing nothing', async () => {
    await assert.rejects(leadPeople(outputs['api-url'] ?? '', 'not-a-token', '1001'))
  })
})
