// PATCH /v1/sessions/{id} checks the 16 KiB limit on the merged userMetadata: 400 naming the field.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { LIMITS } from '../../src/store/limits.js'
import { backendName } from '../support/backend.js'
import { OPEN_TIMEOUT_MS, type Server, startServer } from './support.js'

describe(`HTTP merged userMetadata limit (${backendName()})`, () => {
  let server: Server
  beforeAll(async () => {
    server = await startServer('http_metadata_limit')
  }, OPEN_TIMEOUT_MS)
  afterAll(async () => {
    await server?.cleanup()
  })

  it('patches that each fit stop at the limit with 400 naming userMetadata; replies stay small', async () => {
    const created = await server.call('POST', '/v1/sessions/m-1/turns', {
      body: { robotPersonality: 'calm', userMessage: 'hi', robotResponse: 'hello' },
    })
    expect(created.status, created.text).toBe(201)
    const statuses: number[] = []
    let largestReply = 0
    for (let i = 0; i < 200; i++) {
      const reply = await server.call('PATCH', '/v1/sessions/m-1', {
        body: { userMetadata: { [`k${i}`]: 'v'.repeat(1000) } },
      })
      statuses.push(reply.status)
      largestReply = Math.max(largestReply, reply.text.length)
      if (reply.status !== 200) {
        expect(reply.status, reply.text).toBe(400)
        expect(reply.body.error.code).toBe('validation_failed')
        expect(reply.body.error.message).toContain('userMetadata')
        expect(reply.text).not.toMatch(/\bat .+\.(ts|js):\d+/)
      }
    }
    expect(statuses.filter((s) => s === 200)).toHaveLength(16) // 16 keys of ~1 KB fit in 16 KiB
    expect(largestReply).toBeLessThan(LIMITS.metadataBytes + 1000)
    const got = await server.call('GET', '/v1/sessions/m-1')
    expect(Buffer.byteLength(JSON.stringify(got.body.userMetadata))).toBeLessThanOrEqual(LIMITS.metadataBytes)
  })
})
