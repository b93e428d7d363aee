// A DDSketch-style duration sketch: log buckets whose width keeps every quantile within a relative
// error ALPHA of the exact value. Sketches merge by adding counts bucket by bucket, so the rollup of a
// month is the sum of its days without touching raw rows. The bucket of a duration is computed in SQL
// (robot_brain.sketch_index, migration 0006) with the same constants; this file reads sketches back.
//
// Stored forms: a jsonb object bucket -> count (hourly rows merged before migration 0016), sketch
// entries, an int8 array of (bucket + 1) << 32 | count in any order (migration 0016), and the same
// entries packed as bytea, eight bytes each, big-endian (what int8send gives; the caches of migration
// 0022). The first two are read as text and the last as bytes, and all are added into a DenseSketch
// here: merging hundreds of sketches costs a few array additions in the application instead of
// expanding every entry into a row in SQL. A packed sketch costs the server a copy, not a number
// formatted per entry, and the application a read of two integers, not of thirteen digits.

/**
 * Relative accuracy. 0.95% rather than 1%, so floating point at bucket edges can never push an
 * estimate past the 1% the API promises.
 */
export const ALPHA = 0.0095
export const GAMMA = (1 + ALPHA) / (1 - ALPHA)
/** The bucket of durations of 0 ms (the log of 0 is undefined). */
export const ZERO_INDEX = -1

/** Bucket index → number of durations in it. Keys are strings, as jsonb stores them. */
export type Sketch = Record<string, number>

/** The bucket of a duration (same formula as robot_brain.sketch_index). */
export function sketchIndex(ms: number): number {
  return ms <= 0 ? ZERO_INDEX : Math.ceil(Math.log(ms) / Math.log(GAMMA))
}

/** The value a bucket stands for: within ALPHA of every value in (GAMMA^(i-1), GAMMA^i]. */
export function bucketValue(index: number): number {
  return index === ZERO_INDEX ? 0 : (2 * GAMMA ** index) / (GAMMA + 1)
}

const TWO_32 = 4294967296
/** Slots a DenseSketch holds at first: bucket -1 (zero) to 1,198, past every integer duration (2^31 ms is bucket 1,131). */
const INITIAL_SLOTS = 1200

/** Counts by bucket in a typed array (slot = bucket + 1), cheap to add into and to read quantiles from. */
export class DenseSketch {
  counts = new Float64Array(INITIAL_SLOTS)
  total = 0
  /**
   * One past the highest slot ever added to: merges and quantiles stop there. Durations of up to a
   * minute use about 580 of the 1,200 slots, and a 30-day answer merges and reads hundreds of sketches.
   */
  end = 0

  private add(slot: number, n: number): void {
    if (slot >= this.end) {
      if (slot >= this.counts.length) {
        const grown = new Float64Array(Math.max(slot + 1, this.counts.length * 2))
        grown.set(this.counts)
        this.counts = grown
      }
      this.end = slot + 1
    }
    this.counts[slot] = (this.counts[slot] as number) + n
    this.total += n
  }

  /**
   * Adds (or, with sign -1, takes away) sketch entries in the text form of a bigint[] ("{e1,e2,...}", non-negative), as the queries
   * return them. Digits are read in place: a 30-day answer holds hundreds of thousands of entries, and
   * splitting the text into strings first took most of the time.
   */
  addEntries(text: string | null, sign: 1 | -1 = 1): void {
    if (!text) return
    let e = 0
    let digits = false
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i) - 48
      if (c >= 0 && c <= 9) {
        e = e * 10 + c
        digits = true
      } else if (digits) {
        const slot = Math.floor(e / TWO_32)
        this.add(slot, sign * (e - slot * TWO_32))
        e = 0
        digits = false
      }
    }
  }

  /** Adds (or, with sign -1, takes away) packed sketch entries (bytea: eight bytes each, big-endian). */
  addPacked(bytes: Uint8Array | null, sign: 1 | -1 = 1): void {
    if (!bytes) return
    const b = bytes
    for (let i = 0; i + 8 <= b.length; i += 8) {
      // Bytes read one by one: a DataView made per sketch cost more than the reads.
      const slot =
        ((b[i] as number) << 24) |
        ((b[i + 1] as number) << 16) |
        ((b[i + 2] as number) << 8) |
        (b[i + 3] as number)
      const n =
        (b[i + 4] as number) * 16777216 +
        (((b[i + 5] as number) << 16) | ((b[i + 6] as number) << 8) | (b[i + 7] as number))
      this.add(slot >>> 0, sign * n)
    }
  }

  /**
   * Adds (or takes away) one duration per bucket index in the text form of an int[] ("{3,-1,3,...}"),
   * as robot_brain.sketch_index computed them for raw events: the bucket comes from SQL, so a raw event
   * lands where the rollups put it, to the last bit of the logarithm.
   */
  addBuckets(text: string | null, sign: 1 | -1 = 1): void {
    if (!text) return
    let index = 0
    let negative = false
    let digits = false
    for (let i = 0; i < text.length; i++) {
      const ch = text.charCodeAt(i)
      const c = ch - 48
      if (c >= 0 && c <= 9) {
        index = index * 10 + c
        digits = true
      } else if (ch === 45) {
        negative = true
      } else if (digits) {
        this.add((negative ? -index : index) + 1, sign)
        index = 0
        negative = false
        digits = false
      }
    }
  }

  /** Adds a jsonb sketch (bucket index -> count). */
  addObject(sketch: Sketch | null, sign: 1 | -1 = 1): void {
    if (!sketch) return
    for (const k in sketch) this.add(Number(k) + 1, sign * Number(sketch[k]))
  }

  /** Adds (or, with sign -1, takes away: both are sums of whole sketches, so counts stay exact) another sketch. */
  addSketch(other: DenseSketch, sign: 1 | -1 = 1): void {
    if (other.end > this.end) this.add(other.end - 1, 0)
    const src = other.counts
    const dst = this.counts
    for (let i = 0; i < other.end; i++) {
      const n = src[i] as number
      if (n !== 0) dst[i] = (dst[i] as number) + sign * n
    }
    this.total += sign * other.total
  }

  /** The compacted entries, as [slot, count]: one per bucket, a count of 2^32 or more split. */
  private *compacted(): Generator<[number, number]> {
    const c = this.counts
    for (let slot = 0; slot < this.end; slot++) {
      let n = c[slot] as number
      while (n > 0) {
        const part = Math.min(n, TWO_32 - 1)
        yield [slot, part]
        n -= part
      }
    }
  }

  /** The sketch as stored entries, compacted, as bigint[] text. */
  entriesText(): string {
    const out: string[] = []
    for (const [slot, n] of this.compacted()) out.push(String(slot * TWO_32 + n))
    return `{${out.join(',')}}`
  }

  /** The sketch as packed entries (see addPacked), compacted, in hex for SQL's decode(…, 'hex'). */
  packedHex(): string {
    const out: string[] = []
    for (const [slot, n] of this.compacted()) {
      out.push(slot.toString(16).padStart(8, '0'), n.toString(16).padStart(8, '0'))
    }
    return out.join('')
  }

  /**
   * Nearest-rank quantiles, all in one pass: the value of rank ceil(q·n) (1-based), as SQL's
   * percentile_disc(q), clamped to the exact maximum, which the rollups keep; null each when empty.
   */
  quantiles(qs: readonly number[], max: number): (number | null)[] {
    if (this.total === 0) return qs.map(() => null)
    const ranks = qs.map((q) => Math.max(1, Math.ceil(q * this.total)))
    const out: (number | null)[] = qs.map(() => max)
    let seen = 0
    let next = 0
    const order = ranks.map((r, i) => [r, i] as const).sort((a, b) => a[0] - b[0])
    const c = this.counts
    for (let slot = 0; slot < this.end && next < order.length; slot++) {
      const n = c[slot] as number
      if (n === 0) continue
      seen += n
      while (next < order.length && seen >= (order[next] as readonly [number, number])[0]) {
        out[(order[next] as readonly [number, number])[1]] = Math.min(bucketValue(slot - 1), max)
        next++
      }
    }
    return out
  }
}
