// The seed generator without a database: reproducible by seed whatever the batch size, exact turns per
// session inside the range, and the months a range touches.
import { describe, expect, it } from 'vitest'
import { eventBatches, monthsInRange, type SeedPlan, turnBatches } from '../../src/seed/generate.js'
import { Random } from '../../src/seed/random.js'
import { PERSONALITIES } from '../../src/seed/voices.js'
import { uuidv7Time } from '../../src/store/ids.js'

const plan = (extra: Partial<SeedPlan> = {}): SeedPlan => ({
  sessions: 40,
  turns: 7,
  events: 55,
  from: new Date('2025-03-30T00:00:00Z'),
  to: new Date('2025-04-02T00:00:00Z'),
  personalities: PERSONALITIES,
  seed: 1234,
  batchSize: 1000,
  ...extra,
})

/** All batches' columns concatenated, so outputs of different batch sizes compare. */
function flatTurns(p: SeedPlan) {
  const out = {
    ids: [] as string[],
    sessionIds: [] as string[],
    text: [] as string[],
    createdAt: [] as string[],
  }
  for (const b of turnBatches(p)) {
    out.ids.push(...b.ids)
    out.sessionIds.push(...b.sessionIds)
    out.createdAt.push(...b.createdAt)
    b.ids.forEach((_, i) => {
      out.text.push(`${b.personalities[i]}|${b.userMessages[i]}|${b.robotResponses[i]}|${b.metadata[i]}`)
    })
  }
  return out
}

describe('seed generator', () => {
  it('gives the same rows for the same seed, whatever the batch size', () => {
    expect(flatTurns(plan({ batchSize: 3 }))).toEqual(flatTurns(plan()))
    const ids = (p: SeedPlan) => [...eventBatches(p)].flatMap((b) => b.ids)
    expect(ids(plan({ batchSize: 4 }))).toEqual(ids(plan()))
  })

  it('gives different rows for another seed', () => {
    const a = flatTurns(plan())
    const b = flatTurns(plan({ seed: 1235 }))
    expect(b.ids.filter((id) => a.ids.includes(id))).toEqual([])
    expect(b.text).not.toEqual(a.text)
  })

  it('makes exactly --turns turns per session, in order, inside [from, to), with UUIDv7 ids of that time', () => {
    const p = plan({ batchSize: 5 })
    const t = flatTurns(p)
    expect(t.ids).toHaveLength(p.sessions * p.turns)
    expect(new Set(t.ids).size).toBe(t.ids.length)
    const perSession = new Map<string, string[]>()
    t.sessionIds.forEach((s, i) => {
      perSession.set(s, [...(perSession.get(s) ?? []), t.createdAt[i] as string])
    })
    expect(perSession.size).toBe(p.sessions)
    for (const times of perSession.values()) {
      expect(times).toHaveLength(p.turns)
      expect([...times].sort()).toEqual(times)
    }
    t.createdAt.forEach((iso, i) => {
      const ms = Date.parse(iso)
      expect(ms).toBeGreaterThanOrEqual(p.from.getTime())
      expect(ms).toBeLessThan(p.to.getTime())
      expect(uuidv7Time(t.ids[i] as string)?.getTime()).toBe(ms)
    })
  })

  it('squeezes a long session into a short range', () => {
    const p = plan({
      sessions: 3,
      turns: 200,
      from: new Date('2025-01-01T00:00:00Z'),
      to: new Date('2025-01-01T00:10:00Z'),
    })
    for (const iso of flatTurns(p).createdAt) {
      expect(Date.parse(iso)).toBeGreaterThanOrEqual(p.from.getTime())
      expect(Date.parse(iso)).toBeLessThan(p.to.getTime())
    }
  })

  it('uses only the chosen personalities', () => {
    const seen = new Set<string>()
    for (const b of turnBatches(plan({ personalities: ['pirate', 'zen'] })))
      for (const p of b.personalities) seen.add(p)
    expect([...seen].sort()).toEqual(['pirate', 'zen'])
  })

  it('lists the months a range touches, the end exclusive', () => {
    expect(monthsInRange(new Date('2025-01-31T23:00:00Z'), new Date('2025-02-01T00:00:00Z'))).toEqual([
      '2025-01-01',
    ])
    expect(monthsInRange(new Date('2024-11-15T00:00:00Z'), new Date('2025-02-01T00:00:01Z'))).toEqual([
      '2024-11-01',
      '2024-12-01',
      '2025-01-01',
      '2025-02-01',
    ])
  })

  it('Random is reproducible and spreads small seeds apart', () => {
    const seq = (seed: number) =>
      Array.from(
        { length: 5 },
        (
          (r) => () =>
            r.uint32()
        )(new Random(seed)),
      )
    expect(seq(7)).toEqual(seq(7))
    expect(seq(7)).not.toEqual(seq(8))
    const r = new Random(1)
    for (let i = 0; i < 1000; i++) {
      const n = r.int(3, 5)
      expect(n >= 3 && n <= 5).toBe(true)
    }
  })
})
