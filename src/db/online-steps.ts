// Online steps: the slow half of a migration, run after its SQL file, on a live database.
//
// A migration file runs in one transaction and must change catalogs only (ADD COLUMN without a
// default, CREATE TABLE, CREATE FUNCTION): that holds its locks for milliseconds. Whatever reads or
// writes every row (a backfill, an index) is an online step here instead:
//   - it runs outside any long transaction: each batch commits on its own, and indexes on a server
//     are built CREATE INDEX CONCURRENTLY, partition by partition, then attached to the parent;
//   - it records its progress in robot_brain.schema_online_steps after every batch, so a run that
//     is interrupted (crash, Ctrl-C, deploy) resumes where it stopped at the next `migrate`;
//   - it is idempotent: two processes running it at once, or a rerun, do no harm.
// Later migrations add their steps to STEPS under their version number.
import { backfillSessionSpans, backfillTurnIds } from './online-steps-0009.js'
import type { DbPool, Queryable } from './pool.js'
import { inTurnBatches, turnBatchSql } from './turn-batches.js'

export interface OnlineStepOptions {
  /** CREATE INDEX CONCURRENTLY (a server). The embedded database has one connection: plain. */
  concurrently?: boolean
  /** Rows per backfill batch (default 2000). */
  batchSize?: number
  /** Called after each batch and step. */
  onProgress?: (step: string, detail: string) => void
  /** Stop after this many batches (tests of resumption). */
  maxBatches?: number
}

export interface StepContext {
  pool: Queryable
  options: Required<Omit<OnlineStepOptions, 'onProgress' | 'maxBatches'>> & OnlineStepOptions
  progress: Record<string, unknown>
  save(progress: Record<string, unknown>): Promise<void>
  /** Counts a batch; false when maxBatches is reached (stop, progress saved). */
  batch(): boolean
}

interface OnlineStep {
  version: number
  name: string
  /** Returns true when finished, false when stopped early (maxBatches). */
  run(ctx: StepContext): Promise<boolean>
}

const STEPS: OnlineStep[] = [
  { version: 5, name: 'backfill_search_vector', run: backfillSearchVector },
  {
    version: 5,
    name: 'search_vector_index',
    run: (ctx) =>
      partitionedIndex(
        ctx,
        'conversations',
        'conversations_search_idx',
        '_search_idx',
        'USING gin (search_vector)',
      ),
  },
  { version: 9, name: 'backfill_turn_ids', run: backfillTurnIds },
  { version: 9, name: 'backfill_session_spans', run: backfillSessionSpans },
  { version: 17, name: 'refresh_search_vector', run: refreshSearchVector },
]

/** Advisory lock key of online steps: the bytes of 'rbdbonln' as a bigint. */
const ONLINE_LOCK_KEY = '7161966484788129646'

/**
 * Runs every online step whose migration is applied and which is not done yet. Two processes
 * migrating at once: the one that gets a session advisory lock (on a connection of its own, the
 * owner's direct URL, never a pooler) runs them; the other returns false (not finished here). The embedded database has one
 * connection and one process: no lock.
 */
export async function runOnlineSteps(pool: DbPool, options: OnlineStepOptions = {}): Promise<boolean> {
  if (options.concurrently === false) return runSteps(pool, options)
  const lock = await pool.connect()
  try {
    // Try, never wait: a waiting session would hold a snapshot that CREATE INDEX CONCURRENTLY of the
    // other process waits for. The process that holds the lock finishes the steps.
    const { rows } = await lock.query<{ got: boolean }>({
      text: 'SELECT pg_try_advisory_lock($1::bigint) AS got',
      values: [ONLINE_LOCK_KEY],
    })
    if (!rows[0]?.got) return false
    try {
      // On the locked connection itself: a second one from the pool would wait for ever on a pool of
      // one (PGlite), and the lock's holder is the one session that may do the work anyway.
      return await runSteps(lock, options)
    } finally {
      await lock.query({ text: 'SELECT pg_advisory_unlock($1::bigint)', values: [ONLINE_LOCK_KEY] })
    }
  } finally {
    lock.release()
  }
}

async function runSteps(pool: Queryable, options: OnlineStepOptions): Promise<boolean> {
  const has = await pool.query<{ t: string | null }>(
    "SELECT to_regclass('robot_brain.schema_online_steps')::text AS t",
  )
  if (!has.rows[0]?.t) return true
  const applied = new Set(
    (await pool.query<{ version: number }>('SELECT version FROM robot_brain.schema_migrations')).rows.map(
      (r) => r.version,
    ),
  )
  let batches = 0
  for (const step of STEPS) {
    if (!applied.has(step.version)) continue
    const { rows } = await pool.query<{ progress: Record<string, unknown>; done: boolean }>({
      text: `INSERT INTO robot_brain.schema_online_steps (version, step) VALUES ($1, $2)
             ON CONFLICT (version, step) DO UPDATE SET version = excluded.version
             RETURNING progress, done_at IS NOT NULL AS done`,
      values: [step.version, step.name],
    })
    if (rows[0]?.done) continue
    const ctx: StepContext = {
      pool,
      options: { concurrently: true, batchSize: 2000, ...options },
      progress: rows[0]?.progress ?? {},
      save: async (progress) => {
        ctx.progress = progress
        await pool.query({
          text: 'UPDATE robot_brain.schema_online_steps SET progress = $3 WHERE version = $1 AND step = $2',
          values: [step.version, step.name, JSON.stringify(progress)],
        })
      },
      batch: () => {
        batches++
        return options.maxBatches === undefined || batches <= options.maxBatches
      },
    }
    if (!(await step.run(ctx))) return false
    await pool.query({
      text: 'UPDATE robot_brain.schema_online_steps SET done_at = now() WHERE version = $1 AND step = $2',
      values: [step.version, step.name],
    })
    options.onProgress?.(step.name, 'done')
  }
  return true
}

/** Online steps not finished yet (for `migrate --status` and readiness). */
export async function pendingOnlineSteps(pool: DbPool): Promise<string[]> {
  const has = await pool.query<{ t: string | null }>(
    "SELECT to_regclass('robot_brain.schema_online_steps')::text AS t",
  )
  if (!has.rows[0]?.t) return []
  const { rows } = await pool.query<{ version: number; step: string }>(
    'SELECT version, step FROM robot_brain.schema_online_steps WHERE done_at IS NOT NULL',
  )
  const applied = new Set(
    (await pool.query<{ version: number }>('SELECT version FROM robot_brain.schema_migrations')).rows.map(
      (r) => r.version,
    ),
  )
  return STEPS.filter(
    (s) => applied.has(s.version) && !rows.some((r) => r.version === s.version && r.step === s.name),
  ).map((s) => `${String(s.version).padStart(4, '0')}:${s.name}`)
}

/**
 * Fills search_vector of turns stored before migration 0005, in primary-key order, one committed
 * batch at a time (row locks on one batch only, for milliseconds). New turns get theirs from the
 * insert trigger, so only old rows are NULL.
 */
const BACKFILL_SEARCH_VECTOR = turnBatchSql(
  `
filled AS (
  UPDATE robot_brain.conversations c
     SET search_vector = robot_brain.turn_search_vector(c.user_message, c.robot_response)
    FROM batch b
   WHERE c.tenant_id = b.tenant_id AND c.id = b.id AND c.created_at = b.created_at
     AND c.search_vector IS NULL
  RETURNING 1
)
`,
  'filled',
)

function backfillSearchVector(ctx: StepContext): Promise<boolean> {
  return inTurnBatches(
    ctx,
    'backfill_search_vector',
    BACKFILL_SEARCH_VECTOR,
    'filled',
    (n) => `${n} turns filled`,
  )
}

/**
 * Rebuilds the search_vector of turns stored before migration 0017 with its one-configuration
 * function, in primary-key order, one committed batch at a time. Each vector is computed once; a row
 * whose vector is already the new one is left alone, one timed after 0017 is not computed, and a NULL one (an
 * encrypted tenant's, or one 0005's backfill has not reached) stays NULL.
 */
const REFRESH_SEARCH_VECTOR = turnBatchSql(
  `
fresh AS MATERIALIZED (
  SELECT c.tenant_id, c.id, c.created_at,
         robot_brain.turn_search_vector(c.user_message, c.robot_response) AS v
  FROM robot_brain.conversations c
  JOIN batch b ON c.tenant_id = b.tenant_id AND c.id = b.id AND c.created_at = b.created_at
  WHERE c.search_vector IS NOT NULL
    -- A turn timed after 0017 was applied was written after it, by its trigger: nothing to compute.
    -- (Turns keep arriving at the end of the key order while this runs; without this the step
    -- computed each one's vector again and, at 370 turns/s of writers, never caught up.)
    AND c.created_at < (SELECT m.applied_at FROM robot_brain.schema_migrations m WHERE m.version = 17)
),
refreshed AS (
  UPDATE robot_brain.conversations c
     SET search_vector = f.v
    FROM fresh f
   WHERE c.tenant_id = f.tenant_id AND c.id = f.id AND c.created_at = f.created_at
     AND c.search_vector IS NOT NULL AND c.search_vector IS DISTINCT FROM f.v
  RETURNING 1
)
`,
  'refreshed',
)

function refreshSearchVector(ctx: StepContext): Promise<boolean> {
  return inTurnBatches(
    ctx,
    'refresh_search_vector',
    REFRESH_SEARCH_VECTOR,
    'refreshed',
    (n) => `${n} turns refreshed`,
  )
}

/**
 * An index on a partitioned table without blocking writes: the parent's index is created ON ONLY
 * (no partition scanned; new partitions get theirs when created), each partition's index is built
 * CONCURRENTLY and attached; the parent's becomes valid when the last one is attached. An invalid
 * index left by an interrupted CONCURRENTLY build is dropped and rebuilt.
 */
async function partitionedIndex(
  ctx: StepContext,
  table: string,
  parentIndex: string,
  suffix: string,
  definition: string,
): Promise<boolean> {
  const { pool } = ctx
  await pool.query(`CREATE INDEX IF NOT EXISTS ${parentIndex} ON ONLY robot_brain.${table} ${definition}`)
  const { rows: parts } = await pool.query<{ name: string }>({
    text: `SELECT c.relname AS name FROM pg_inherits i
           JOIN pg_class c ON c.oid = i.inhrelid
           WHERE i.inhparent = $1::regclass ORDER BY c.relname`,
    values: [`robot_brain.${table}`],
  })
  for (const { name } of parts) {
    if (!ctx.batch()) return false
    // The partition may already have an index attached to the parent's (made with the partition).
    const { rows: attached } = await pool.query<{ name: string; valid: boolean }>({
      text: `SELECT c.relname AS name, x.indisvalid AS valid FROM pg_inherits i
             JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_index x ON x.indexrelid = c.oid
             WHERE i.inhparent = $1::regclass AND x.indrelid = $2::regclass`,
      values: [`robot_brain.${parentIndex}`, `robot_brain.${name}`],
    })
    if (attached.some((a) => a.valid)) continue
    const index = `${name}${suffix}`.slice(0, 63)
    const { rows: existing } = await pool.query<{ valid: boolean }>({
      text: `SELECT x.indisvalid AS valid FROM pg_index x WHERE x.indexrelid = to_regclass($1)`,
      values: [`robot_brain.${index}`],
    })
    if (existing[0] && !existing[0].valid) await pool.query(`DROP INDEX IF EXISTS robot_brain.${index}`)
    const concurrently = ctx.options.concurrently ? 'CONCURRENTLY' : ''
    await pool.query(
      `CREATE INDEX ${concurrently} IF NOT EXISTS ${index} ON robot_brain.${name} ${definition}`,
    )
    await pool.query(`ALTER INDEX robot_brain.${parentIndex} ATTACH PARTITION robot_brain.${index}`)
    ctx.options.onProgress?.(parentIndex, `${name} indexed`)
  }
  return true
}
