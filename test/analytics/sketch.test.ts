// The application side of the duration sketch: entries parsed from the array text the queries return,
// jsonb sketches of hours merged before migration 0016, merging, and nearest-rank quantiles within 1%
// of the exact ones (no database: the SQL side is covered by the analytics tests on every backend).
import { describe, expect, it } from 'vitest'
import { timeRange } from '../../src/analytics/range.js'
import { DenseSketch, sketchIndex } from '../../src/analytics/sketch.js'

const entry = (ms: number, n: number) => (sketchIndex(ms) + 1) * 2 ** 32 + n
const exact = (sorted: number[], q: number) => sorted[Math.max(1, Math.ceil(q * sorted.length)) - 1] as number

describe('DenseSketch', () => {
  it('reads entries and jsonb sketches, merges them, and answers quantiles within 1% of the exact ones', () => {
    let seed = 7
    const rand = () => {
      seed = (seed * 48271) % 2147483647
      return seed / 2147483647
    }
    const values = Array.from({ length: 5000 }, (_, i) =>
      i % 50 === 0 ? 0 : Math.floor(Math.exp(rand() * 14)),
    )
    // Three parts, as three rows would come back: entries (one repeating a bucket), and a jsonb sketch.
    const parts = [values.slice(0, 2000), values.slice(2000, 4000), values.slice(4000)]
    const a = new DenseSketch()
    const b = new DenseSketch()
    a.addEntries(`{${(parts[0] as number[]).map((v) => entry(v, 1)).join(',')}}`)
    const counts = new Map<number, number>()
    for (const v of parts[1] as number[]) counts.set(sketchIndex(v), (counts.get(sketchIndex(v)) ?? 0) + 1)
    b.addEntries(`{${[...counts].map(([i, n]) => (i + 1) * 2 ** 32 + n).join(',')}}`)
    const obj: Record<string, number> = {}
    for (const v of parts[2] as number[]) obj[String(sketchIndex(v))] = (obj[String(sketchIndex(v))] ?? 0) + 1
    b.addObject(obj)
    a.addSketch(b)
    expect(a.total).toBe(values.length)
    const sorted = [...values].sort((x, y) => x - y)
    const max = sorted[sorted.length - 1] as number
    const qs = [0.01, 0.5, 0.95, 0.99, 1]
    a.quantiles(qs, max).forEach((got, i) => {
      const want = exact(sorted, qs[i] as number)
      expect(Math.abs((got as number) - want)).toBeLessThanOrEqual(0.01 * want)
    })
  })

  it('packs to the bytes int8send gives its entries, and reads them back, a count past 2^32 split', () => {
    const s = new DenseSketch()
    s.addEntries(`{${entry(0, 5)},${entry(3, 2)},${entry(60_000, 1)},${entry(3, 1)}}`)
    s.addEntries(`{${entry(250, 4294967295)},${entry(250, 7)}}`)
    const hex = s.packedHex()
    // Big-endian int8 of each compacted entry, in bucket order: what robot_brain.sketch_pack stores.
    const want = s
      .entriesText()
      .slice(1, -1)
      .split(',')
      .map((e) => BigInt(e).toString(16).padStart(16, '0'))
      .join('')
    expect(hex).toBe(want)
    expect(hex.length).toBe(16 * 5)
    const back = new DenseSketch()
    back.addPacked(Buffer.from(hex, 'hex'))
    expect(back.entriesText()).toBe(s.entriesText())
    // Taken away, from a view into a larger buffer (as a driver may hand it over): empty again.
    const bigger = Buffer.concat([Buffer.from('ff', 'hex'), Buffer.from(hex, 'hex')])
    back.addPacked(bigger.subarray(1), -1)
    expect(back.total).toBe(0)
    expect(back.entriesText()).toBe('{}')
    back.addPacked(null)
    expect(back.total).toBe(0)
  })

  it('is empty without entries, and grows for a bucket past its first slots', () => {
    const s = new DenseSketch()
    s.addEntries('{}')
    s.addEntries(null)
    expect(s.quantiles([0.5], 10)).toEqual([null])
    s.addEntries(`{${2000 * 2 ** 32 + 3}}`)
    expect(s.total).toBe(3)
    expect(s.counts.length).toBeGreaterThan(2000)
  })
})

describe('DenseSketch from the bucket of each raw event', () => {
  it('counts int[] text of bucket indexes (the zero bucket -1 included) as entries of the same buckets would', () => {
    const durations = [0, 1, 2, 7, 7, 150, 99_999, 0, 3_600_000]
    const fromBuckets = new DenseSketch()
    fromBuckets.addBuckets(`{${durations.map(sketchIndex).join(',')}}`)
    fromBuckets.addBuckets('{}')
    fromBuckets.addBuckets(null)
    const fromEntries = new DenseSketch()
    fromEntries.addEntries(`{${durations.map((ms) => entry(ms, 1)).join(',')}}`)
    expect(fromBuckets.total).toBe(durations.length)
    expect(fromBuckets.entriesText()).toBe(fromEntries.entriesText())
    // Taken away, one event per index: what is left is the rest exactly.
    fromBuckets.addBuckets(`{${[0, 7, 3_600_000].map(sketchIndex).join(',')}}`, -1)
    const rest = new DenseSketch()
    rest.addEntries(`{${[1, 2, 7, 150, 99_999, 0].map((ms) => entry(ms, 1)).join(',')}}`)
    expect(fromBuckets.entriesText()).toBe(rest.entriesText())
  })
})

describe('DenseSketch subtraction and stored form', () => {
  it('takes a sketch away exactly and writes compacted entries that read back the same', () => {
    const whole = new DenseSketch()
    const part = new DenseSketch()
    for (let ms = 0; ms < 5000; ms += 7) {
      whole.addEntries(`{${entry(ms, 3)}}`)
      if (ms % 2 === 0) part.addEntries(`{${entry(ms, 1)}}`)
    }
    const rest = new DenseSketch()
    rest.addEntries(whole.entriesText())
    rest.addEntries(part.entriesText(), -1)
    const expected = new DenseSketch()
    for (let ms = 0; ms < 5000; ms += 7) expected.addEntries(`{${entry(ms, ms % 2 === 0 ? 2 : 3)}}`)
    expect(rest.total).toBe(expected.total)
    expect(rest.entriesText()).toBe(expected.entriesText())
    const back = new DenseSketch()
    back.addEntries(whole.entriesText())
    back.addSketch(part, -1)
    expect(back.quantiles([0.5, 0.99], 5000)).toEqual(expected.quantiles([0.5, 0.99], 5000))
  })
})

describe('timeRange partial days', () => {
  it('reads a partial day as its whole day less the outside part only where that part is smaller', () => {
    const c = (from: string, to: string, bucket: 'day' | 'hour' | null = 'day') =>
      timeRange({ from, to, bucket }).complement
    expect(c('2026-02-03T01:30:00Z', '2026-02-20T22:15:00Z')).toEqual({ start: true, end: true })
    expect(c('2026-02-03T13:30:00Z', '2026-02-20T10:15:00Z')).toEqual({ start: false, end: false })
    // On midnight there is no partial day; within a day there are no whole days to lean on.
    expect(c('2026-02-03T00:00:00Z', '2026-02-21T00:00:00Z')).toEqual({ start: false, end: false })
    expect(c('2026-02-03T01:00:00Z', '2026-02-03T23:00:00Z')).toEqual({ start: false, end: false })
    expect(c('2026-02-03T01:30:00Z', '2026-02-20T22:15:00Z', 'hour')).toEqual({ start: false, end: false })
  })
})
