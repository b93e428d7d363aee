// Upkeep settings from the environment: how often serve runs upkeep, how long a lease lasts, and the
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

function months(name: string, raw: string | undefined): number | null {
  const value = raw?.trim()
  if (!value || value === 'all') return null
  if (!/^\d{1,4}$/.test(value) || Number(value) < 1)
    throw new ConfigError(`${name} must be a whole number of months from 1 (or "all"), got "${raw}"`)
  return Number(value)
}

export function upkeepOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): UpkeepOptions {
  const interval = env.ROBOT_BRAIN_UPKEEP_INTERVAL?.trim()
  const lease = env.ROBOT_BRAIN_UPKEEP_LEASE?.trim()
  const retention: RetentionPolicy = {
    conversationsMonths: months(
      'ROBOT_BRAIN_RETENTION_CONVERSATIONS_MONTHS',
      env.ROBOT_BRAIN_RETENTION_CONVERSATIONS_MONTHS,
    ),
    interactionsMonths: months(
      'ROBOT_BRAIN_RETENTION_INTERACTIONS_MONTHS',
      env.ROBOT_BRAIN_RETENTION_INTERACTIONS_MONTHS,
    ),
    archiveDir: env.ROBOT_BRAIN_ARCHIVE_DIR?.trim() || null,
  }
  const options: UpkeepOptions = {
    intervalMs: interval
      ? parseDuration('ROBOT_BRAIN_UPKEEP_INTERVAL', interval)
      : UPKEEP_DEFAULTS.intervalMs,
    leaseMs: lease ? parseDuration('ROBOT_BRAIN_UPKEEP_LEASE', lease) : UPKEEP_DEFAULTS.leaseMs,
    retention,
  }
  if (options.leaseMs < 1000) throw new ConfigError('ROBOT_BRAIN_UPKEEP_LEASE must be at least 1s')
  return options
}
