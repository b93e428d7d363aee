// The re-encryption of a tenant's stored content with its current data key, after `enable` (plain rows)
// or `rotate` (rows of an older key): committed batches, online, resumable. Each batch, in one
// transaction: takes the tenant's encryption lock shared (so an enable, rotate or shred waits for it,
// never the other way round), locks the job row (one runner at a time), locks and rewrites the next
// rows in key order, and saves the last key in the job: an interrupted run resumes after the last
// committed batch. Rows written meanwhile by the store are sealed with the current key already, and
// the database refuses any other (migration 0014), so when the last batch commits nothing is left.
import type { DbClient, DbPool } from '../../db/pool.js'
import { withTransaction } from '../../db/pool.js'
import { isSealedMetadata, openMetadata, openText, sealMetadata, sealText } from './content.js'
import { isSealed, sealedVersion } from './format.js'
import type { TenantCrypto } from './keyring.js'
import { unnamed } from './unnamed.js'

export interface ResealJob {
  kind: 'enable' | 'rotate'
  /** The data key every row gets. */
  version: number
  phase: 'turns' | 'sessions'
  /** The last turn id (turns) or session id (sessions) done. */
  after: string
  /**
   * The highest turn id when the key changed (null: no turn). Turns stored since are sealed with the new
   * key (the database refuses others), whatever their id: the job need not chase them.
   */
  until: string | null
  turns: number
  sessions: number
  startedAt: string
}

export interface ResealProgress {
  phase: 'turns' | 'sessions'
  turns: number
  sessions: number
  /** The tenant's turns (known at the start), for a share done. */
  totalTurns: number
}

export interface ResealOptions {
  batchSize?: number
  /** Stop after this many batches (tests of resumption); the job stays, to resume. */
  maxBatches?: number
  onProgress?: (p: ResealProgress) => void
}

const TURN_BATCH = `
SELECT c.id::text AS id, (extract(epoch FROM c.created_at) * 1000000)::bigint::text AS us,
       c.user_message, c.robot_response
FROM robot_brain.conversations c
WHERE c.tenant_id = $1 AND c.id > $2::uuid AND c.id <= $4::uuid
ORDER BY c.id
LIMIT $3
FOR UPDATE`

const TURN_UPDATE = `
UPDATE robot_brain.conversations c SET user_message = u.um, robot_response = u.rr
FROM unnest($2::uuid[], $3::bigint[], $4::text[], $5::text[]) AS u(id, us, um, rr)
WHERE c.tenant_id = $1 AND c.id = u.id AND c.created_at = timestamptz 'epoch' + u.us * interval '1 microsecond'`

const SESSION_BATCH = `
SELECT s.id, s.user_metadata FROM robot_brain.sessions s
WHERE s.tenant_id = $1 AND s.id > $2
ORDER BY s.id
LIMIT $3
FOR UPDATE`

const SESSION_UPDATE = `
UPDATE robot_brain.sessions s SET user_metadata = u.meta
FROM unnest($2::text[], $3::jsonb[]) AS u(id, meta)
WHERE s.tenant_id = $1 AND s.id = u.id`

/** The job that re-encrypts the tenant's rows with `version`; inside the transaction that changed the key. */
export async function newJob(
  client: DbClient,
  tenant: string,
  kind: ResealJob['kind'],
  version: number,
): Promise<ResealJob> {
  const { rows } = await client.query<{ until: string | null }>({
    text: 'SELECT c.id::text AS until FROM robot_brain.conversations c WHERE c.tenant_id = $1 ORDER BY c.id DESC LIMIT 1',
    values: [tenant],
  })
  return {
    kind,
    version,
    phase: 'turns',
    after: '00000000-0000-0000-0000-000000000000',
    until: rows[0]?.until ?? null,
    turns: 0,
    sessions: 0,
    startedAt: new Date().toISOString(),
  }
}

/** A text sealed with `version`: plain text sealed, another key's opened and sealed; a destroyed key's left. */
function resealText(
  c: TenantCrypto,
  field: 'user_message' | 'robot_response',
  id: string,
  value: string,
  version: number,
): string | null {
  const has = sealedVersion(value)
  if (has === version) return null
  if (has !== null && c.destroyed.has(has)) return null // shredded before: unreadable forever
  const plain = isSealed(value) ? openText(c, field, id, value) : value
  return sealText(c, field, id, plain)
}

export interface ResealRun {
  /** False when stopped by maxBatches: the job stays, to resume. */
  finished: boolean
  /** Rows sealed again by this run. */
  turns: number
  sessions: number
}

/** Runs the tenant's job (if any) until done or stopped by maxBatches. */
export async function runReseal(
  pool: DbPool,
  tenant: string,
  state: () => Promise<TenantCrypto>,
  options: ResealOptions = {},
  retry: <T>(fn: () => Promise<T>) => Promise<T> = (fn) => fn(),
): Promise<ResealRun> {
  const size = options.batchSize ?? 500
  const { rows: total } = await pool.query<{ n: string }>({
    text: `SELECT n.n FROM robot_brain.use_tenant($1) AS ctx(t)
           CROSS JOIN LATERAL (SELECT coalesce(sum(s.message_count), 0)::text AS n FROM robot_brain.sessions s WHERE s.tenant_id = ctx.t) n`,
    values: [tenant],
  })
  const totalTurns = Number(total[0]?.n ?? 0)
  const run: ResealRun = { finished: false, turns: 0, sessions: 0 }
  let batches = 0
  for (;;) {
    if (options.maxBatches !== undefined && batches >= options.maxBatches) return run
    batches++
    const c = await state()
    const b = await retry(() =>
      withTransaction(pool, (client) => resealBatch(unnamed(client), tenant, c, size)),
    )
    run.turns += b.turns
    run.sessions += b.sessions
    if (!b.job) return { ...run, finished: true }
    options.onProgress?.({ phase: b.job.phase, turns: b.job.turns, sessions: b.job.sessions, totalTurns })
  }
}

interface BatchOutcome {
  /** The job after the batch; null: finished (or none). */
  job: ResealJob | null
  turns: number
  sessions: number
}

async function resealBatch(
  client: DbClient,
  tenant: string,
  c: TenantCrypto,
  size: number,
): Promise<BatchOutcome> {
  await client.query({
    text: `SELECT robot_brain.use_tenant($1), robot_brain.encryption_admit($1), set_config('robot_brain.resealing', 'on', true)`,
    values: [tenant],
  })
  const { rows } = await client.query<{ job: ResealJob | null }>({
    text: 'SELECT job FROM robot_brain.tenant_encryption WHERE tenant_id = $1 FOR UPDATE',
    values: [tenant],
  })
  const job = rows[0]?.job
  if (!job) return { job: null, turns: 0, sessions: 0 }
  if (job.phase === 'turns' && job.until !== null) {
    const { rows: turns } = await client.query<{
      id: string
      us: string
      user_message: string
      robot_response: string | null
    }>({ text: TURN_BATCH, values: [tenant, job.after, size, job.until] })
    const changed: Array<{ id: string; us: string; um: string; rr: string | null }> = []
    for (const t of turns) {
      const um = resealText(c, 'user_message', t.id, t.user_message, job.version)
      const rr =
        t.robot_response === null
          ? null
          : resealText(c, 'robot_response', t.id, t.robot_response, job.version)
      if (um !== null || rr !== null) {
        changed.push({ id: t.id, us: t.us, um: um ?? t.user_message, rr: rr ?? t.robot_response })
      }
    }
    if (changed.length > 0) {
      await client.query({
        text: TURN_UPDATE,
        values: [
          tenant,
          changed.map((r) => r.id),
          changed.map((r) => r.us),
          changed.map((r) => r.um),
          changed.map((r) => r.rr),
        ],
      })
    }
    const last = turns[turns.length - 1]
    const next: ResealJob = last
      ? { ...job, after: last.id, turns: job.turns + changed.length }
      : { ...job, phase: 'sessions', after: '' }
    await saveJob(client, tenant, next)
    return { job: next, turns: changed.length, sessions: 0 }
  }
  if (job.phase === 'turns') job.phase = 'sessions' // no turn to re-encrypt
  const { rows: sessions } = await client.query<{ id: string; user_metadata: Record<string, unknown> }>({
    text: SESSION_BATCH,
    values: [tenant, job.after, size],
  })
  const changed: Array<{ id: string; meta: string }> = []
  for (const s of sessions) {
    const meta = s.user_metadata
    if (Object.keys(meta).length === 0) continue
    if (isSealedMetadata(meta)) {
      const has = sealedVersion(meta.$sealed)
      if (has === job.version || (has !== null && c.destroyed.has(has))) continue
    }
    const plain = openMetadata(c, s.id, meta)
    changed.push({ id: s.id, meta: JSON.stringify(sealMetadata(c, s.id, plain)) })
  }
  if (changed.length > 0) {
    await client.query({
      text: SESSION_UPDATE,
      values: [tenant, changed.map((r) => r.id), changed.map((r) => r.meta)],
    })
  }
  const last = sessions[sessions.length - 1]
  if (!last) {
    await finishJob(client, tenant, job)
    return { job: null, turns: 0, sessions: changed.length }
  }
  const next: ResealJob = { ...job, after: last.id, sessions: job.sessions + changed.length }
  await saveJob(client, tenant, next)
  return { job: next, turns: 0, sessions: changed.length }
}

async function saveJob(client: DbClient, tenant: string, job: ResealJob): Promise<void> {
  await client.query({
    text: 'UPDATE robot_brain.tenant_encryption SET job = $2::jsonb, updated_at = now() WHERE tenant_id = $1',
    values: [tenant, JSON.stringify(job)],
  })
}

/**
 * The job is done. After enable without the semantic-search opt-in, the tenant's vectors go too: they
 * were computed from the plain text, and leak its meaning.
 */
async function finishJob(client: DbClient, tenant: string, job: ResealJob): Promise<void> {
  const { rows } = await client.query<{ semantic_search: boolean }>({
    text: `UPDATE robot_brain.tenant_encryption SET job = NULL, updated_at = now() WHERE tenant_id = $1
           RETURNING semantic_search`,
    values: [tenant],
  })
  if (job.kind === 'enable' && rows[0]?.semantic_search === false) await forgetVectors(client, tenant)
}

/** Deletes the tenant's vectors and queued embeddings (inside the caller's transaction, tenant set). */
export async function forgetVectors(client: DbClient, tenant: string): Promise<void> {
  await client.query({ text: 'DELETE FROM robot_brain.embeddings WHERE tenant_id = $1', values: [tenant] })
  await client.query({
    text: 'DELETE FROM robot_brain.embedding_queue WHERE tenant_id = $1',
    values: [tenant],
  })
}
