// The userMetadata limit holds for the merged object, not only for each patch: checked in the merging
// statement, so concurrent patches cannot pass it together, and a refused patch writes nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ValidationError } from '../../src/errors.js'
import { LIMITS } from '../../src/store/limits.js'
import { backend, openTestStore, type TestStore, turnInput } from '../support/store.js'

const bytes = (value: unknown) => Buffer.byteLength(JSON.stringify(value), 'utf8')

async function refusal(p: Promise<unknown>): Promise<ValidationError> {
  const err = await p.then(
    () => new Error('expected a ValidationError, the patch was stored'),
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(ValidationError)
  expect((err as ValidationError).field).toBe('userMetadata')
  return err as ValidationError
}

describe(`merged userMetadata limit (${backend})`, () => {
  let t: TestStore

  beforeAll(async () => {
    t = await openTestStore('metadata_limit')
  })
  afterAll(async () => {
    await t?.cleanup()
  })

  const storedBytes = async (id: string) => {
    const [row] = await t.ownerQuery<{ m: Record<string, unknown> }>(
      'SELECT user_metadata AS m FROM robot_brain.sessions WHERE id = $1',
      [id],
    )
    return bytes(row?.m)
  }

  it('200 patches of new keys stop growing the object at the limit', async () => {
    await t.store.recordTurn(turnInput('grow', 1))
    let refused = 0
    let last = 0
    for (let i = 0; i < 200; i++) {
      const patch = { [`key${String(i).padStart(3, '0')}`]: 'x'.repeat(200) }
      const before = await storedBytes('grow')
      try {
        const s = await t.store.updateSessionMetadata('grow', patch)
        last = bytes(s.userMetadata)
      } catch (err) {
        expect(err).toBeInstanceOf(ValidationError)
        expect((err as ValidationError).field).toBe('userMetadata')
        expect((err as Error).message).toContain(String(LIMITS.metadataBytes))
        expect(await storedBytes('grow')).toBe(before) // nothing written
        refused++
      }
    }
    expect(refused).toBeGreaterThan(100)
    expect(last).toBeLessThanOrEqual(LIMITS.metadataBytes)
    expect(bytes((await t.store.getSession('grow')).userMetadata)).toBe(last)
  })

  it('the limit is exact, measured as compact JSON, and a shrinking patch is always allowed', async () => {
    await t.store.recordTurn(turnInput('exact', 1))
    // Nested objects, arrays, escapes and multi-byte characters: the database's measure of the merged
    // object must equal JSON.stringify's.
    const base = { nested: { a: [1, 2, { b: 'é\n"' }], c: {} }, list: [[], [true, null]], 名前: '花子' }
    await t.store.updateSessionMetadata('exact', base)
    const room = LIMITS.metadataBytes - bytes({ ...base, fill: '' })
    const full = await t.store.updateSessionMetadata('exact', { fill: 'y'.repeat(room) })
    expect(bytes(full.userMetadata)).toBe(LIMITS.metadataBytes)
    await refusal(t.store.updateSessionMetadata('exact', { fill: 'y'.repeat(room + 1) }))
    await refusal(t.store.updateSessionMetadata('exact', { one: 1 }))
    expect(bytes((await t.store.getSession('exact')).userMetadata)).toBe(LIMITS.metadataBytes)
    const shrunk = await t.store.updateSessionMetadata('exact', { fill: null })
    expect(bytes(shrunk.userMetadata)).toBeLessThan(LIMITS.metadataBytes)
  })

  it('two concurrent patches that fit alone but not together: one is refused', async () => {
    await t.store.recordTurn(turnInput('race', 1))
    const half = 'z'.repeat(Math.floor(LIMITS.metadataBytes / 2) + 10)
    for (let round = 0; round < 5; round++) {
      await t.store.updateSessionMetadata('race', { a: null, b: null })
      const results = await Promise.allSettled([
        t.store.updateSessionMetadata('race', { a: half }),
        t.store.updateSessionMetadata('race', { b: half }),
      ])
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1)
      const rejected = results.find((r) => r.status === 'rejected') as PromiseRejectedResult
      expect(rejected.reason).toBeInstanceOf(ValidationError)
      expect(await storedBytes('race')).toBeLessThanOrEqual(LIMITS.metadataBytes)
    }
  })
})
