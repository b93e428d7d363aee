// Sampling of audit entries a client can cause at will (authentication failures, scope denials): at
// most `perWindow` entries per bucket (e.g. per client address) and window; the entries left out are
// counted, and the next entry recorded for that bucket carries the count (`suppressed`). A flood costs
// a few rows a minute, and the log still says how big it was.
export interface SamplerOptions {
  /** Entries recorded per bucket and window (default 10). */
  perWindow?: number
  /** Window length in ms (default 60 s). */
  windowMs?: number
  /** Buckets tracked at most; beyond it the oldest windows are forgotten (default 10,000). */
  maxBuckets?: number
}

interface Bucket {
  start: number
  recorded: number
  suppressed: number
}

export class AuditSampler {
  private readonly buckets = new Map<string, Bucket>()
  private readonly perWindow: number
  private readonly windowMs: number
  private readonly maxBuckets: number

  constructor(
    options: SamplerOptions = {},
    private readonly now: () => number = Date.now,
  ) {
    this.perWindow = options.perWindow ?? 10
    this.windowMs = options.windowMs ?? 60_000
    this.maxBuckets = options.maxBuckets ?? 10_000
  }

  /**
   * Whether to record an event of `bucket` now: null to skip it (counted), or the number of events
   * skipped since the last recorded one (to put in its details).
   */
  take(bucket: string): { suppressed: number } | null {
    const now = this.now()
    let b = this.buckets.get(bucket)
    if (!b || now - b.start >= this.windowMs) {
      const suppressed = b?.suppressed ?? 0
      if (!b && this.buckets.size >= this.maxBuckets) this.evict(now)
      b = { start: now, recorded: 0, suppressed }
      this.buckets.set(bucket, b)
    }
    if (b.recorded >= this.perWindow) {
      b.suppressed++
      return null
    }
    b.recorded++
    const suppressed = b.suppressed
    b.suppressed = 0
    return { suppressed }
  }

  private evict(now: number): void {
    for (const [k, b] of this.buckets) if (now - b.start >= this.windowMs) this.buckets.delete(k)
    // Still full (a flood from many addresses at once): forget everything rather than grow.
    if (this.buckets.size >= this.maxBuckets) this.buckets.clear()
  }
}
