// Export: every session (followed by its turns) and every interaction event matching the filters, as
// JSON lines, streamed page by page. Keyset pages on the primary keys and the history index, never a
// server cursor (works through a pooler) and never the whole result in memory: memory stays flat
// whatever the size of the database. Pages of turns are sized by their text as well (paging.ts): a
// page of 2,000 turns of 100,000-character messages would otherwise hold hundreds of megabytes.
// Runs as the owner on the direct URL (sees every tenant).
import type { Queryable } from '../db/pool.js'
import { PageSizer } from './paging.js'
import { type InteractionRecord, isoMicros, type SessionRecord, type TurnRecord } from './records.js'

export interface ExportFilters {
  tenant?: string
  session?: string
  user?: string
}

export interface ExportSummary {
  sessions: number
  turns: number
  interactions: number
}

export interface ExportOptions {
  filters?: ExportFilters
  /** Receives lines (each ending in a newline); resolves when the data may be written on (backpressure). */
  write(chunk: string): Promise<void>
  onProgress?(rows: number): void
  /** Most rows per page (default 2000); pages of turns hold fewer when the turns are long. */
  pageSize?: number
  /** Opens an encrypted tenant's sealed texts and userMetadata (the store's keys); absent: as stored. */
  open?: ExportOpener
}

/** Turns and sessions of one tenant as they should be written (encrypted content opened). */
export interface ExportOpener {
  turns<R extends { id: string; user_message: string; robot_response: string | null }>(
    tenant: string,
    rows: R[],
  ): Promise<R[]>
  sessions<R extends { id: string; user_metadata: Record<string, unknown> }>(
    tenant: string,
    rows: R[],
  ): Promise<R[]>
}

/** The tenants holding rows, without scanning the tables: a skip scan of the primary key indexes. */
const TENANTS = `
WITH RECURSIVE s(t) AS (
  SELECT min(tenant_id) FROM robot_brain.sessions
  UNION ALL
  SELECT (SELECT min(tenant_id) FROM robot_brain.sessions WHERE tenant_id > s.t) FROM s WHERE s.t IS NOT NULL
), i(t) AS (
  SELECT min(tenant_id) FROM robot_brain.robot_interactions
  UNION ALL
  SELECT (SELECT min(tenant_id) FROM robot_brain.robot_interactions WHERE tenant_id > i.t) FROM i WHERE i.t IS NOT NULL
)
SELECT t FROM s WHERE t IS NOT NULL UNION SELECT t FROM i WHERE t IS NOT NULL ORDER BY 1`

const SESSIONS = `
SELECT s.id, s.user_id, s.user_metadata, ${isoMicros('s.created_at')} AS created_at,
       ${isoMicros('s.last_active')} AS last_active, s.message_count
FROM robot_brain.sessions s
WHERE s.tenant_id = $1 AND s.id > $2
  AND ($3::text IS NULL OR s.id = $3) AND ($4::text IS NULL OR s.user_id = $4)
ORDER BY s.id
LIMIT $5`

/** The turns of some sessions of one tenant, each session's in time order, after a key within the first. */
const TURNS = `
SELECT c.id::text AS id, c.session_id, c.robot_personality, c.user_message, c.robot_response, c.metadata,
       ${isoMicros('c.created_at')} AS created_at
FROM unnest($2::text[]) WITH ORDINALITY AS k(session_id, n)
CROSS JOIN LATERAL (
  SELECT * FROM robot_brain.conversations c
  WHERE c.tenant_id = $1 AND c.session_id = k.session_id
    AND (k.n > 1 OR (c.created_at, c.id) > ($3::timestamptz, $4::uuid))
  ORDER BY c.created_at, c.id
  LIMIT $5
) c
ORDER BY k.n, c.created_at, c.id`

const INTERACTIONS = `
SELECT r.id::text AS id, r.robot_id, r.interaction_type, r.duration_ms, r.success, r.metadata,
       ${isoMicros('r.created_at')} AS created_at
FROM robot_brain.robot_interactions r
WHERE r.tenant_id = $1 AND r.id > $2::uuid
ORDER BY r.id
LIMIT $3`

const MIN_KEY = { at: '-infinity', id: '00000000-0000-0000-0000-000000000000' }

interface SessionRow {
  id: string
  user_id: string | null
  user_metadata: Record<string, unknown>
  created_at: string
  last_active: string
  message_count: number
}

interface TurnRow {
  id: string
  session_id: string
  robot_personality: string
  user_message: string
  robot_response: string | null
  metadata: Record<string, unknown>
  created_at: string
}

const line = (record: SessionRecord | TurnRecord | InteractionRecord) => `${JSON.stringify(record)}\n`

export async function exportData(db: Queryable, options: ExportOptions): Promise<ExportSummary> {
  const filters = options.filters ?? {}
  const page = options.pageSize ?? 2000
  const summary: ExportSummary = { sessions: 0, turns: 0, interactions: 0 }
  // Turns per query: at most `page`, fewer when their text is long.
  const turnPage = new PageSizer(page)
  const progress = () => options.onProgress?.(summary.sessions + summary.turns + summary.interactions)
  const tenants = filters.tenant
    ? [filters.tenant]
    : (await db.query<{ t: string }>(TENANTS)).rows.map((r) => r.t)

  for (const tenantId of tenants) {
    let after = ''
    for (;;) {
      const { rows } = await db.query<SessionRow>({
        text: SESSIONS,
        values: [tenantId, after, filters.session ?? null, filters.user ?? null, page],
      })
      if (rows.length === 0) break
      after = rows[rows.length - 1]?.id ?? after
      // Sessions in groups of about `page` turns: one query per group, never more than a page in memory.
      let group: SessionRow[] = []
      let groupTurns = 0
      const flush = async () => {
        if (group.length)
          await writeGroup(db, tenantId, group, turnPage, options.write, summary, options.open)
        progress()
        group = []
        groupTurns = 0
      }
      for (const s of rows) {
        if (group.length && groupTurns + s.message_count > turnPage.rows) await flush()
        group.push(s)
        groupTurns += s.message_count
      }
      await flush()
      if (rows.length < page) break
    }
    // Interaction events belong to a tenant, not to a session or user.
    if (filters.session !== undefined || filters.user !== undefined) continue
    let afterId = MIN_KEY.id
    for (;;) {
      const { rows } = await db.query<{
        id: string
        robot_id: string
        interaction_type: string
        duration_ms: number
        success: boolean
        metadata: Record<string, unknown>
        created_at: string
      }>({ text: INTERACTIONS, values: [tenantId, afterId, page] })
      if (rows.length === 0) break
      let chunk = ''
      for (const r of rows) {
        chunk += line({
          type: 'interaction',
          tenantId,
          id: r.id,
          robotId: r.robot_id,
          interactionType: r.interaction_type,
          durationMs: r.duration_ms,
          success: r.success,
          metadata: r.metadata,
          createdAt: r.created_at,
        })
      }
      await options.write(chunk)
      summary.interactions += rows.length
      progress()
      afterId = rows[rows.length - 1]?.id ?? afterId
      if (rows.length < page) break
    }
  }
  return summary
}

/** Writes each session of the group followed by its turns. */
async function writeGroup(
  db: Queryable,
  tenantId: string,
  group: SessionRow[],
  sizer: PageSizer,
  write: (chunk: string) => Promise<void>,
  summary: ExportSummary,
  open?: ExportOpener,
): Promise<void> {
  const openTurns = (rows: TurnRow[]) => (open ? open.turns(tenantId, rows) : Promise.resolve(rows))
  if (open) group = await open.sessions(tenantId, group)
  const sessionLine = (s: SessionRow) =>
    line({
      type: 'session',
      tenantId,
      id: s.id,
      userId: s.user_id,
      userMetadata: s.user_metadata,
      createdAt: s.created_at,
      lastActive: s.last_active,
      messageCount: s.message_count,
    })
  const turnLine = (r: TurnRow) =>
    line({
      type: 'turn',
      tenantId,
      id: r.id,
      sessionId: r.session_id,
      robotPersonality: r.robot_personality,
      userMessage: r.user_message,
      robotResponse: r.robot_response,
      metadata: r.metadata,
      createdAt: r.created_at,
    })
  if (group.length === 1) {
    // One session (perhaps a long one): its turns page by page.
    for (const s of group) {
      await write(sessionLine(s))
      summary.sessions++
      let key = MIN_KEY
      for (;;) {
        const limit = sizer.rows
        const { rows } = await db.query<TurnRow>({
          text: TURNS,
          values: [tenantId, [s.id], key.at, key.id, limit],
        })
        if (rows.length === 0) break
        const chunk = (await openTurns(rows)).map(turnLine).join('')
        sizer.observe(rows.length, chunk.length)
        await write(chunk)
        summary.turns += rows.length
        const last = rows[rows.length - 1]
        if (last) key = { at: last.created_at, id: last.id }
        if (rows.length < limit) break
      }
    }
    return
  }
  // Several sessions whose turns fit one page (message_count is exact): one query for all of them.
  const { rows: stored } = await db.query<TurnRow>({
    text: TURNS,
    values: [tenantId, group.map((s) => s.id), MIN_KEY.at, MIN_KEY.id, sizer.rows + 1],
  })
  const rows = await openTurns(stored)
  const bySession = new Map<string, TurnRow[]>()
  for (const r of rows) {
    const list = bySession.get(r.session_id)
    if (list) list.push(r)
    else bySession.set(r.session_id, [r])
  }
  let chunk = ''
  for (const s of group) {
    chunk += sessionLine(s)
    const turns = bySession.get(s.id) ?? []
    for (const r of turns) chunk += turnLine(r)
    summary.turns += turns.length
  }
  summary.sessions += group.length
  sizer.observe(rows.length, chunk.length)
  await write(chunk)
}
