// Closed-day answers (interaction_closed_days, migration 0020): for every UTC day that ended before
// yesterday, per robot (or type), the day's own percentiles and the running sketch of the key's days up
// to it. A 30-day answer by day then reads one small row per day and key and two running sketches per
// key, instead of merging every daily sketch of the range (hundreds of entries each). They are a cache:
// valid only under the tenant's current analytics epoch, which any write of events dated before the
// writer's own UTC day raises (src/analytics/rollups.ts). This file fills them, on the primary.
import { type DbClient, type DbPool, type TransactionOptions, withTransaction } from '../db/pool.js'
import { DenseSketch } from './sketch.js'

export type Dim = 'r' | 't'

/** The column each dimension groups by: identifiers from this fixed map, never from input. */
export const DIM_COLUMN: Record<Dim, string> = { r: 'robot_id', t: 'interaction_type' }

/**
 * Runs `fn` in a transaction that has set the tenant first (use_tenant), for statements planned after
 * it: an UPDATE joined to its input, or a DELETE, would otherwise let the planner read the table under
 * row-level security before the tenant is set. Statement names are not dropped on this client where
 * the pooler cannot keep them (role-pool.ts does so in pool.query only): run unnamed statements here.
 */
export function withTenantTransaction<T>(
  db: DbPool,
  tenant: string,
  fn: (client: DbClient) => Promise<T>,
): Promise<T> {
  return withTransaction(db, async (client) => {
    await client.query({ text: 'SELECT robot_brain.use_tenant($1)', values: [tenant] })
    return fn(client)
  })
}

export const QUANTILES = [0.5, 0.95, 0.99] as const

/**
 * How the interaction analytics read: a custom plan (the range and tenant decide which partitions and
 * how many rows; a direct connection plans generically by default, which knows neither), and no JIT
 * (a misestimate past jit_above_cost compiled for about 0.9 s an answer that runs in 20 ms). In a
 * transaction, since SET LOCAL is what reaches through a pooler.
 */
export const ANALYTICS_READ: TransactionOptions = {
  settings: { plan_cache_mode: 'force_custom_plan', jit: 'off' },
}

/** SQL: the tenant's epoch and the first day not closed (yesterday, UTC), after `ctx`. */
export const EPOCH_CTE = `ep AS MATERIALIZED (
  SELECT coalesce((SELECT e.epoch FROM robot_brain.analytics_epochs e WHERE e.tenant_id = ctx.tenant_id), 0) AS epoch,
         date_trunc('day', now(), 'UTC') - interval '1 day' AS closed_before
  FROM ctx
)`

// $1 tenant, $2 dim, $3 most daily rows. One snapshot: the epoch, per key its newest answer of this
// epoch ('l'), and the first $3 daily rows of the closed days after them ('d'), by key and day.
const PENDING = `
WITH ctx AS MATERIALIZED (SELECT robot_brain.use_tenant($1) AS tenant_id),
${EPOCH_CTE},
keys AS (
  SELECT DISTINCT d.key FROM ctx, ep CROSS JOIN LATERAL (
    SELECT d.key FROM robot_brain.interaction_day_rollups d
    WHERE d.tenant_id = ctx.tenant_id AND d.dim = $2::"char" AND d.day < ep.closed_before
  ) d
),
last AS (
  SELECT k.key, c.day, c.run_events, c.run_sketch, c.run_packed
  FROM keys k CROSS JOIN ctx CROSS JOIN ep CROSS JOIN LATERAL (
    SELECT c.day, c.run_events, c.run_sketch, c.run_packed FROM robot_brain.interaction_closed_days c
    WHERE c.tenant_id = ctx.tenant_id AND c.dim = $2::"char" AND c.key = k.key AND c.epoch = ep.epoch
    ORDER BY c.day DESC LIMIT 1
  ) c
)
SELECT 'l' AS kind, l.key, l.day, l.run_events AS events, 0 AS duration_max,
       CASE WHEN l.run_packed IS NULL THEN l.run_sketch::text END AS entries, l.run_packed AS packed, ep.epoch
FROM last l CROSS JOIN ep
UNION ALL
SELECT * FROM (
  SELECT 'd', d.key, d.day, d.events, d.duration_max, d.sketch_entries::text, NULL::bytea, ep.epoch
  FROM ctx CROSS JOIN ep CROSS JOIN LATERAL (
    SELECT * FROM robot_brain.interaction_day_rollups d
    WHERE d.tenant_id = ctx.tenant_id AND d.dim = $2::"char" AND d.day < ep.closed_before
      AND d.day > coalesce((SELECT l.day FROM last l WHERE l.key = d.key), '-infinity')
  ) d
  ORDER BY d.key, d.day
  LIMIT $3
) d
ORDER BY 2, 3`

// Upserts answers; a row of a newer epoch is never overwritten by an older one. The running sketch is
// stored packed (read by this version) and as int8[] (read by the previous one during an upgrade).
// Runs after ANSWER_DAYS, in its transaction.
const SAVE = `
INSERT INTO robot_brain.interaction_closed_days AS c
  (tenant_id, dim, key, day, epoch, p50, p95, p99, run_events, run_sketch, run_packed)
SELECT ctx.tenant_id, $2::"char", r.key, r.day, $3::bigint, r.p50, r.p95, r.p99, r.run_events, r.run_sketch::bigint[],
       decode(r.run_packed, 'hex')
FROM (SELECT robot_brain.use_tenant($1) AS tenant_id) ctx
CROSS JOIN LATERAL unnest($4::text[], $5::timestamptz[], $6::float8[], $7::float8[], $8::float8[], $9::bigint[], $10::text[],
                          $11::text[])
  AS r(key, day, p50, p95, p99, run_events, run_sketch, run_packed)
ON CONFLICT (tenant_id, dim, key, day) DO UPDATE
  SET epoch = excluded.epoch, p50 = excluded.p50, p95 = excluded.p95, p99 = excluded.p99,
      run_events = excluded.run_events, run_sketch = excluded.run_sketch, run_packed = excluded.run_packed
  WHERE c.epoch < excluded.epoch`

// The same answers on the daily rows (migration 0022), where the interaction query reads them without
// a probe a day; never over an answer of a newer epoch. Runs in withTenantTransaction. $1 tenant, $2
// dim, $3 epoch, $4 keys, $5 days, $6 to $8 percentiles.
const ANSWER_DAYS = `
UPDATE robot_brain.interaction_day_rollups d
SET day_answer = ARRAY[r.p50, r.p95, r.p99], day_answer_epoch = $3::bigint
FROM unnest($4::text[], $5::timestamptz[], $6::float8[], $7::float8[], $8::float8[]) AS r(key, day, p50, p95, p99)
WHERE d.tenant_id = $1::text AND d.dim = $2::"char" AND d.key = r.key AND d.day = r.day
  AND (d.day_answer_epoch IS NULL OR d.day_answer_epoch < $3::bigint)`

interface PendingRow {
  kind: 'l' | 'd'
  key: string
  day: Date
  events: string
  duration_max: number
  entries: string | null
  /** 'l': the running sketch packed, when stored so (rows from migration 0022 on). */
  packed: Uint8Array | null
  epoch: string
}

// $1 tenant. What the tenant's raises since kept_since recorded (migration 0025), as text: the same
// from every driver.
const KEPT = `
SELECT epoch::text, kept_since::text, kept_raises::text, kept_before::text
FROM robot_brain.analytics_epochs WHERE tenant_id = $1::text`

// $1 tenant, $2 epoch, $3 kept_since, $4 kept_before: the answers still right, stamped with the epoch.
// Nothing but fills writes these rows.
const KEEP_ANSWERS = `
UPDATE robot_brain.interaction_closed_days c SET epoch = $2::bigint
WHERE c.tenant_id = $1::text AND c.epoch >= $3::bigint AND c.epoch < $2::bigint AND c.day < $4::timestamptz`

// The same on the daily rows, which late writes also update: locked first, in the order writes lock
// them (dim, day, key), so that neither waits for the other in a cycle.
const KEEP_DAY_ANSWERS = `
UPDATE robot_brain.interaction_day_rollups d SET day_answer_epoch = $2::bigint
FROM (
  SELECT x.dim, x.day, x.key FROM robot_brain.interaction_day_rollups x
  WHERE x.tenant_id = $1::text AND x.day_answer_epoch >= $3::bigint AND x.day_answer_epoch < $2::bigint
    AND x.day < $4::timestamptz
  ORDER BY x.dim, x.day, x.key
  FOR UPDATE
) l
WHERE d.tenant_id = $1::text AND d.dim = l.dim AND d.day = l.day AND d.key = l.key`

// Starts the count anew from the epoch read, unless a raise came since (then the row keeps counting).
const KEPT_RESET = `
UPDATE robot_brain.analytics_epochs SET kept_since = epoch, kept_raises = 0, kept_before = 'infinity'
WHERE tenant_id = $1::text AND epoch = $2::bigint AND kept_since = $3::bigint`

interface KeptRow {
  epoch: string
  kept_since: string
  kept_raises: string
  kept_before: string
}

/**
 * After late writes raised the tenant's epoch: stamps the answers that are still right (of epochs
 * since kept_since, for days before the earliest day those writes reached) with the current epoch, for
 * both dimensions, so the fill computes only the days from that day on. When a raise went unrecorded
 * (an earlier version's write), keeps nothing. Either way, counts anew from the current epoch. Each
 * statement reads what is committed when it starts: a raise that commits meanwhile leaves the stamped
 * rows of an older epoch (stale, never read as current) and the count going, never a wrong answer.
 */
export async function keepAnswers(db: DbPool, tenant: string): Promise<number> {
  return withTenantTransaction(db, tenant, async (client) => {
    const [row] = (await client.query<KeptRow>({ text: KEPT, values: [tenant] })).rows
    if (!row || row.epoch === row.kept_since) return 0
    let kept = 0
    if (BigInt(row.epoch) - BigInt(row.kept_since) === BigInt(row.kept_raises)) {
      const values = [tenant, row.epoch, row.kept_since, row.kept_before]
      kept = (await client.query({ text: KEEP_ANSWERS, values })).rowCount ?? 0
      await client.query({ text: KEEP_DAY_ANSWERS, values })
    }
    await client.query({ text: KEPT_RESET, values: [tenant, row.epoch, row.kept_since] })
    return kept
  })
}

/** Rows per INSERT: a running sketch is up to about 1,100 entries of text. */
const CHUNK = 200
/** Daily rows read at once: a first fill may cover years of days and keys, never all in memory. */
const PAGE = 2000
/** Pages at most in one fill; a tenant whose epoch keeps rising under it is answered from sketches. */
const MAX_PAGES = 1000

/**
 * Computes and stores the answers of every closed day that has none under the current epoch, for one
 * dimension, a page of daily rows at a time; returns how many were stored. Safe to run concurrently
 * (the same epoch gives the same rows) and after a late write (it first keeps the answers still right,
 * keepAnswers, then starts from the newest answer of the current epoch, or from the key's first day).
 */
export async function fillClosedDays(
  db: DbPool,
  tenant: string,
  dim: Dim,
  pageRows: number = PAGE,
): Promise<number> {
  await keepAnswers(db, tenant)
  let stored = 0
  for (let page = 0; page < MAX_PAGES; page++) {
    const { rows } = await withTransaction(
      db,
      (client) => client.query<PendingRow>({ text: PENDING, values: [tenant, dim, pageRows] }),
      ANALYTICS_READ,
    )
    const days = rows.filter((r) => r.kind === 'd').length
    if (days === 0) break
    stored += await saveAnswers(db, tenant, dim, rows)
    if (days < pageRows) break
  }
  return stored
}

/** Answers for the 'd' rows of a page, from each key's 'l' row (or nothing) on, stored CHUNK rows at a time. */
async function saveAnswers(db: DbPool, tenant: string, dim: Dim, rows: PendingRow[]): Promise<number> {
  const epoch = (rows[0] as PendingRow).epoch
  const empty = () => ({
    key: [] as string[],
    day: [] as string[],
    p50: [] as number[],
    p95: [] as number[],
    p99: [] as number[],
    runEvents: [] as string[],
    run: [] as string[],
    packed: [] as string[],
  })
  let out = empty()
  const flush = async () => {
    if (out.key.length === 0) return
    const chunk = out
    await withTenantTransaction(db, tenant, async (client) => {
      await client.query({
        text: ANSWER_DAYS,
        values: [tenant, dim, epoch, chunk.key, chunk.day, chunk.p50, chunk.p95, chunk.p99],
      })
      await client.query({
        text: SAVE,
        values: [
          tenant,
          dim,
          epoch,
          chunk.key,
          chunk.day,
          chunk.p50,
          chunk.p95,
          chunk.p99,
          chunk.runEvents,
          chunk.run,
          chunk.packed,
        ],
      })
    })
    out = empty()
  }
  let stored = 0
  let key: string | undefined
  let run = new DenseSketch()
  let runEvents = 0
  // Rows come by key, the 'l' row (if any) before that key's days, which are in day order.
  for (const r of rows) {
    if (r.key !== key) {
      key = r.key
      run = new DenseSketch()
      runEvents = 0
    }
    if (r.kind === 'l') {
      run.addEntries(r.entries)
      run.addPacked(r.packed)
      runEvents = Number(r.events)
      continue
    }
    const day = new DenseSketch()
    day.addEntries(r.entries)
    const [p50, p95, p99] = day.quantiles(QUANTILES, r.duration_max)
    run.addSketch(day)
    runEvents += Number(r.events)
    out.key.push(r.key)
    out.day.push(new Date(r.day).toISOString())
    out.p50.push(p50 ?? 0)
    out.p95.push(p95 ?? 0)
    out.p99.push(p99 ?? 0)
    out.runEvents.push(String(runEvents))
    out.run.push(run.entriesText())
    out.packed.push(run.packedHex())
    stored++
    if (out.key.length >= CHUNK) await flush()
  }
  await flush()
  return stored
}
