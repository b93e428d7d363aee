// A small seeded random source for `seed`: the same seed gives the same rows (ids included), so a
// demo data set can be rebuilt exactly. Math.random cannot be seeded; crypto is not reproducible.
import { UUID } from 'uuidv7'

/** sfc32 (Small Fast Counting, 128-bit state): fast, passes PractRand, and seedable. */
export class Random {
  private a: number
  private b: number
  private c: number
  private d: number

  constructor(seed: number) {
    // splitmix32 spreads a small integer seed over the whole state, so seeds 1 and 2 are unrelated.
    let s = seed >>> 0
    const next = () => {
      s = (s + 0x9e3779b9) | 0
      let z = s
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b)
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35)
      return (z ^ (z >>> 16)) >>> 0
    }
    this.a = next()
    this.b = next()
    this.c = next()
    this.d = next()
    for (let i = 0; i < 12; i++) this.uint32()
  }

  uint32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0
    this.d = (this.d + 1) | 0
    this.a = this.b ^ (this.b >>> 9)
    this.b = (this.c + (this.c << 3)) | 0
    this.c = (this.c << 21) | (this.c >>> 11)
    this.c = (this.c + t) | 0
    return t >>> 0
  }

  /** A float in [0, 1). */
  next(): number {
    return this.uint32() / 4294967296
  }

  /** An integer in [min, max], both included. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1))
  }

  chance(p: number): boolean {
    return this.next() < p
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)] as T
  }

  /** Approximately normal (sum of uniforms), for durations and lengths that cluster around a mean. */
  normal(mean: number, sd: number): number {
    const u = this.next() + this.next() + this.next() + this.next() - 2
    return mean + u * sd * Math.sqrt(3) // the sum of 4 uniforms has variance 1/3
  }

  /** Lowercase hex of `chars` characters. */
  hex(chars: number): string {
    let out = ''
    while (out.length < chars) out += this.uint32().toString(16).padStart(8, '0')
    return out.slice(0, chars)
  }

  /** A UUIDv7 for the given millisecond, its 74 random bits from this source. */
  uuidv7(ms: number): string {
    return UUID.fromFieldsV7(ms, this.uint32() & 0xfff, this.uint32() & 0x3fffffff, this.uint32()).toString()
  }
}
