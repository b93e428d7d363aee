// The two run profiles: quick (CI, under two minutes with setup) and full (the documented run).
import type { CompareOptions } from './load.js'
import type { TurnCase } from './suite-turns.js'
import type { TargetName } from './targets.js'

export const SUITES = [
  'turns',
  'history',
  'interactions',
  'http',
  'partitions',
  'search',
  'analytics',
  'lifecycle',
  'encryption',
] as const
export type SuiteName = (typeof SUITES)[number]
export const TARGETS: readonly TargetName[] = ['pg', 'pgbouncer', 'neon', 'pglite']

export interface Profile {
  compare: CompareOptions
  turnCases: TurnCase[]
  /** Turn cases for PgBouncer, the Neon driver and PGlite (suite e). */
  transportTurnCases: TurnCase[]
  historySizes: number[]
  pgliteHistorySizes: number[]
  turnsPerSession: number
  interactionBatches: number[]
}

const ALL_TURN_CASES: TurnCase[] = [1, 8, 64].flatMap((writers) =>
  (['distinct', 'hot'] as const).map((sessions) => ({ writers, sessions })),
)

export const PROFILES: Record<'quick' | 'full', Profile> = {
  // Under two minutes with setup on a 2-core machine: short rounds, small data sets.
  quick: {
    compare: { rounds: 2, durationMs: 300, warmupMs: 100 },
    turnCases: ALL_TURN_CASES,
    transportTurnCases: [
      { writers: 8, sessions: 'distinct' },
      { writers: 64, sessions: 'distinct' },
    ],
    historySizes: [10_000, 50_000],
    pgliteHistorySizes: [10_000],
    turnsPerSession: 100,
    interactionBatches: [100, 1000, 10_000],
  },
  full: {
    compare: { rounds: 4, durationMs: 3000, warmupMs: 1000 },
    turnCases: ALL_TURN_CASES,
    transportTurnCases: ALL_TURN_CASES,
    historySizes: [100_000, 1_000_000, 10_000_000],
    pgliteHistorySizes: [100_000, 1_000_000],
    turnsPerSession: 100,
    interactionBatches: [100, 1000, 10_000],
  },
}
