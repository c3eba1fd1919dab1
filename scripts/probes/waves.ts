/**
 * Zero-overhead probe for npm run bench: makes the requests of a plan (a JSON file: waves of
 * requests) wave after wave, each wave's requests at once, every answer read — what a process
 * with no work of its own between its requests would take for the same round trips. node:http with
 * keep-alive, nothing else loaded.
 */
import { Agent, request } from 'node:http'
import { readFileSync } from 'node:fs'

export interface PlannedRequest {
  url: string
  method: string
  headers: Record<string, string>
  body?: string
}

const plan = JSON.parse(readFileSync(process.argv[2] ?? '', 'utf8')) as PlannedRequest[][]
const agent = new Agent({ keepAlive: true })

function send(planned: PlannedRequest): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request(planned.url, { method: planned.method, headers: planned.headers, agent }, (res) => {
      res.resume()
      res.on('end', resolve)
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(planned.body)
  })
}

for (const wave of plan) await Promise.all(wave.map(send))
agent.destroy()
