// Upkeep settings (config.ts reads them from the environment): how often serve runs upkeep, how long a lease lasts, and the
// retention policy (months to keep; default: keep everything).
import { ConfigError } from '../errors.js'

export interface RetentionPolicy {
  /** Whole months of conversations to keep before the current one; null: keep everything. */
  conversationsMonths: number | null
  /** Whole months of robot interactions to keep before the current one; null: keep everything. */
  interactionsMonths: number | null
  /** Where retention archives a month before dropping it (required once a limit is set). */
  archiveDir: string | null
}

export interface UpkeepOptions {
  /** At most one run per this many ms, across every process of the database; 0: never. */
  intervalMs: number
  /** A lease not renewed for this long is free for another process (a crashed holder). */
  leaseMs: number
  retention: RetentionPolicy
}

export const UPKEEP_DEFAULTS: UpkeepOptions = {
  intervalMs: 6 * 3_600_000,
  leaseMs: 15 * 60_000,
  retention: { conversationsMonths: null, interactionsMonths: null, archiveDir: null },
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }

/** `6h`, `30m`, `90s`, `1d`, `500ms`, a bare number of ms, or `off`/`0` (never). */
export function parseDuration(name: string, raw: string): number {
  const value = raw.trim().toLowerCase()
  if (value === 'off') return 0
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/.exec(value)
  if (!m) throw new ConfigError(`${name} must be a duration such as 6h, 30m, 90s or off, got "${raw}"`)
  return Math.round(Number(m[1]) * (UNITS[m[2] ?? 'ms'] ?? 1))
}
