// Import: JSON lines as export writes them, streamed (a batch in memory at a time), idempotent (a
// row whose id is stored is skipped, so importing twice changes nothing and an interrupted import can
// simply run again), every line validated with the API's limits first. A bad line is reported with its
// number and nothing of it is stored; the other lines go on.
//
// Sessions are inserted as exported: their createdAt, lastActive, metadata and messageCount (which
// counts turns archived away too, so a turn imported does not add to it: the round trip is exact even
// from a database with archived months). Turns and events reach the analytics rollups in the same
// statement (the write path's CTEs), and their months get partitions first.
import { interactionRollupCte, personalityRollupCte } from '../analytics/rollups.js'
import type { DbPool } from '../db/pool.js'
import { SQLSTATE } from '../db/sqlstate.js'
import { ValidationError } from '../errors.js'
import { firstOfEach } from '../store/ids.js'
import { ensureMonths, type PartitionedTable } from '../upkeep/partitions.js'
import {
  type InteractionRecord,
  type LifecycleRecord,
  parseRecord,
  type RecordType,
  type SessionRecord,
  type TurnRecord,
} from './records.js'

export interface LineError {
  line: number
  field: string
  message: string
}

export interface ImportCounts {
  /** Stored by this run. */
  inserted: number
  /** Already stored (same id): skipped. */
  present: number
}

export interface ImportSummary {
  lines: number
  sessions: ImportCounts
  turns: ImportCounts
  interactions: ImportCounts
  /** Bad lines (the first 100 kept); `errorCount` counts them all. */
  errors: LineError[]
  errorCount: number
  dryRun: boolean
}

export interface ImportOptions {
  dryRun?: boolean
  /** Lines per batch, written with one statement per type of line (default 500). */
  batchSize?: number
  /** Retries connection failures (statements are idempotent). */
  retry?<T>(fn: () => Promise<T>): Promise<T>
  onProgress?(lines: number): void
  onError?(error: LineError): void
}

const INSERT_SESSIONS = `
INSERT INTO robot_brain.sessions AS s (tenant_id, id, user_id, user_metadata, created_at, last_active, message_count)
SELECT i.tenant_id, i.id, i.user_id, i.user_metadata, i.created_at, i.last_active, i.message_count
FROM unnest($1::text[], $2::text[], $3::text[], $4::jsonb[], $5::timestamptz[], $6::timestamptz[], $7::integer[])
  AS i(tenant_id, id, user_id, user_metadata, created_at, last_active, message_count)
ORDER BY 1, 2
ON CONFLICT (tenant_id, id) DO NOTHING
RETURNING 1`

const INSERT_TURNS = `
WITH req AS (
  SELECT i.*
  FROM unnest($1::text[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::jsonb[], $8::timestamptz[])
    AS i(tenant_id, id, session_id, robot_personality, user_message, robot_response, metadata, created_at)
  -- The key holds created_at: an id stored under another time is found in any partition. A scalar
  -- subquery runs as index probes per row; NOT EXISTS let the planner hash-join a scan of every
  -- partition, once per batch (an import slowing down as the table grew).
  WHERE (SELECT 1 FROM robot_brain.conversations x WHERE x.tenant_id = i.tenant_id AND x.id = i.id LIMIT 1) IS NULL
),
c AS (
  INSERT INTO robot_brain.conversations
    (tenant_id, id, session_id, robot_personality, user_message, robot_response, metadata, created_at)
  SELECT * FROM req
  ON CONFLICT (tenant_id, id, created_at) DO NOTHING
  RETURNING tenant_id, session_id, robot_personality, user_message, robot_response, created_at
),
per_session AS (
  SELECT tenant_id, session_id, min(created_at) AS first_at, max(created_at) AS last_at
  FROM c GROUP BY 1, 2 ORDER BY 1, 2
),
-- The session's span of turn times grows to hold the imported turns, so history reads only the
-- partitions inside it. The count is the session line's (see the top of this file).
s AS (
  UPDATE robot_brain.sessions s
     SET turns_from = least(s.turns_from, p.first_at), turns_to = greatest(s.turns_to, p.last_at)
    FROM per_session p
   WHERE s.tenant_id = p.tenant_id AND s.id = p.session_id
  RETURNING s.id
),
${personalityRollupCte('c', 's')}
SELECT count(*)::integer AS inserted FROM c`

const INSERT_INTERACTIONS = `
WITH req AS (
  SELECT i.*
  FROM unnest($1::text[], $2::uuid[], $3::text[], $4::text[], $5::integer[], $6::boolean[], $7::jsonb[], $8::timestamptz[])
    AS i(tenant_id, id, robot_id, interaction_type, duration_ms, success, metadata, created_at)
  WHERE (SELECT 1 FROM robot_brain.robot_interactions x WHERE x.tenant_id = i.tenant_id AND x.id = i.id LIMIT 1) IS NULL
),
ins AS (
  INSERT INTO robot_brain.robot_interactions
    (tenant_id, id, robot_id, interaction_type, duration_ms, success, metadata, created_at)
  SELECT * FROM req
  ON CONFLICT (tenant_id, id, created_at) DO NOTHING
  RETURNING tenant_id, robot_id, interaction_type, duration_ms, success, created_at
),
${interactionRollupCte('ins')}
SELECT count(*)::integer AS inserted FROM ins`

interface Pending {
  line: number
  record: LifecycleRecord
}

const KEEP_ERRORS = 100

/** Data errors of one row (a missing session, a constraint): the line is bad, not the import. */
function isRowError(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code
  return typeof code === 'string' && (code.startsWith('22') || code.startsWith('23'))
}

function rowErrorMessage(err: unknown, record: LifecycleRecord): { field: string; message: string } {
  const e = err as { code?: string; message?: string }
  if (e.code === SQLSTATE.FOREIGN_KEY_VIOLATION && record.type === 'turn')
    return {
      field: 'sessionId',
      message: `session ${JSON.stringify(record.sessionId)} of tenant ${JSON.stringify(record.tenantId)} does not exist: its session line must come first`,
    }
  return { field: 'line', message: `${e.message ?? String(err)} (SQLSTATE ${e.code})` }
}

function monthOf(iso: string): string {
  return new Date(iso).toISOString().slice(0, 7)
}

export async function importLines(
  owner: DbPool,
  lines: AsyncIterable<string>,
  options: ImportOptions = {},
): Promise<ImportSummary> {
  const retry = options.retry ?? ((fn) => fn())
  const batchSize = options.batchSize ?? 500
  const summary: ImportSummary = {
    lines: 0,
    sessions: { inserted: 0, present: 0 },
    turns: { inserted: 0, present: 0 },
    interactions: { inserted: 0, present: 0 },
    errors: [],
    errorCount: 0,
    dryRun: options.dryRun === true,
  }
  const fail = (line: number, field: string, message: string) => {
    const error = { line, field, message }
    summary.errorCount++
    if (summary.errors.length < KEEP_ERRORS) summary.errors.push(error)
    options.onError?.(error)
  }
  const partitioned = new Set<string>()
  let pending: Pending[] = []

  const write = async (type: RecordType, batch: Pending[]): Promise<number> => {
    if (type !== 'session') {
      const table: PartitionedTable = type === 'turn' ? 'conversations' : 'robot_interactions'
      const months = [...new Set(batch.map((p) => monthOf(p.record.createdAt as string)))].filter(
        (m) => !partitioned.has(`${table}:${m}`),
      )
      if (months.length) {
        await retry(() => ensureMonths(owner, table, months))
        for (const m of months) partitioned.add(`${table}:${m}`)
      }
    }
    const { text, values } = statement(type, batch)
    const { rows } = await retry(() => owner.query<{ inserted?: number }>({ text, values }))
    return type === 'session' ? rows.length : (rows[0]?.inserted ?? 0)
  }

  const counts = (type: RecordType): ImportCounts =>
    type === 'session' ? summary.sessions : type === 'turn' ? summary.turns : summary.interactions

  /** Writes a run of lines of one type; on a row error, line by line to find the bad ones. */
  const writeRun = async (type: RecordType, batch: Pending[]) => {
    const c = counts(type)
    try {
      const n = await write(type, batch)
      c.inserted += n
      c.present += batch.length - n
    } catch (err) {
      if (!isRowError(err) || batch.length === 1) {
        if (!isRowError(err)) throw err
        const first = batch[0] as Pending
        const { field, message } = rowErrorMessage(err, first.record)
        fail(first.line, field, message)
        return
      }
      for (const one of batch) await writeRun(type, [one])
    }
  }

  const flush = async () => {
    const batch = pending
    pending = []
    if (options.dryRun) {
      for (const p of batch) counts(p.record.type).inserted++
      return
    }
    // One statement per type, sessions first so the batch's turns find theirs. Export interleaves a
    // session and its turns: a statement per run of one type cost a statement per session.
    for (const type of ['session', 'turn', 'interaction'] as const) {
      const run = batch.filter((p) => p.record.type === type)
      if (run.length) await writeRun(type, run)
    }
    options.onProgress?.(summary.lines)
  }

  for await (const text of lines) {
    summary.lines++
    if (text.trim() === '') continue
    try {
      pending.push({ line: summary.lines, record: parseRecord(text) })
    } catch (err) {
      if (!(err instanceof ValidationError)) throw err
      fail(summary.lines, err.field, err.message.replace(`${err.field}: `, ''))
      continue
    }
    if (pending.length >= batchSize) await flush()
  }
  await flush()
  options.onProgress?.(summary.lines)
  return summary
}

function statement(type: RecordType, batch: Pending[]): { text: string; values: unknown[] } {
  if (type === 'session') {
    const r = batch.map((p) => p.record as SessionRecord)
    return {
      text: INSERT_SESSIONS,
      values: [
        r.map((x) => x.tenantId),
        r.map((x) => x.id),
        r.map((x) => x.userId),
        r.map((x) => JSON.stringify(x.userMetadata)),
        r.map((x) => x.createdAt),
        r.map((x) => x.lastActive),
        r.map((x) => x.messageCount),
      ],
    }
  }
  if (type === 'turn') {
    const r = batch.map((p) => p.record as TurnRecord)
    return {
      text: INSERT_TURNS,
      values: [
        r.map((x) => x.tenantId),
        r.map((x) => x.id),
        r.map((x) => x.sessionId),
        r.map((x) => x.robotPersonality),
        r.map((x) => x.userMessage),
        r.map((x) => x.robotResponse),
        r.map((x) => JSON.stringify(x.metadata)),
        r.map((x) => x.createdAt),
      ],
    }
  }
  // An event id is one event. A later line of the same tenant and id in this batch, at another time,
  // would pass both the stored-id check and the key: it is left out, and counted as present, as it
  // would be in a later batch.
  const r = firstOfEach(
    batch.map((p) => p.record as InteractionRecord),
    (x) => `${x.tenantId}\n${x.id.toLowerCase()}`,
  )
  return {
    text: INSERT_INTERACTIONS,
    values: [
      r.map((x) => x.tenantId),
      r.map((x) => x.id),
      r.map((x) => x.robotId),
      r.map((x) => x.interactionType),
      r.map((x) => x.durationMs),
      r.map((x) => x.success),
      r.map((x) => JSON.stringify(x.metadata)),
      r.map((x) => x.createdAt),
    ],
  }
}
