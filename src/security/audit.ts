// The audit log of one tenant: record an entry (in the tenant's hash chain) and read entries back.
// Appends go through robot_brain.audit_append (migration 0013), which serializes each chain with a
// transaction-scoped lock and hashes the entry; verification is in audit-verify.ts.
import type { DbPool, Queryable } from '../db/pool.js'
import { ValidationError } from '../errors.js'
import * as v from '../store/validate.js'

/** The chain of events that belong to no tenant (authentication failures of unknown keys). */
export const SYSTEM_CHAIN = '*'

export interface AuditEntryInput {
  /** What happened: lowercase words joined by "." (e.g. `archive.month`, `encryption.rotate`). */
  action: string
  /** What it happened to, e.g. `session:abc`, `key:<uuid>`, `month:2026-03`. */
  target?: string
  /** Ids, counts, scopes: never content. A JSON object up to 16 KiB. */
  details?: Record<string, unknown>
  /** Who did it; default: the store's actor (`library`, or `key:<uuid>` for a request). */
  actor?: string
}

export interface AuditEvent {
  id: string
  at: string
  actor: string
  action: string
  target: string
  details: Record<string, unknown>
}

export interface AuditPage {
  events: AuditEvent[]
  nextCursor: string | null
}

export interface AuditListOptions {
  /** Inclusive, ISO 8601. */
  from?: string | Date
  /** Exclusive, ISO 8601. */
  to?: string | Date
  /** 1 to 1000, default 100. */
  limit?: number
  cursor?: string | null
}

export interface RecordedAudit {
  id: string
  seq: number
  at: string
}

export const AUDIT_LIMITS = { listDefault: 100, listMax: 1000, actorMax: 200, actionMax: 100, targetMax: 300 }

const ACTION_RE = /^[a-z][a-z0-9_-]*(\.[a-z0-9_-]+)*$/

/** Checks an entry before any SQL; each failure names the field. */
export function validateEntry(input: AuditEntryInput, defaultActor: string): Required<AuditEntryInput> {
  const e = v.knownFields('', v.requireObject('entry', input) as unknown as AuditEntryInput, [
    'action',
    'target',
    'details',
    'actor',
  ])
  const action = v.identifier('action', e.action, AUDIT_LIMITS.actionMax)
  if (!ACTION_RE.test(action)) {
    throw new ValidationError('action', 'must be lowercase words joined by "." (e.g. "archive.month")')
  }
  const target = e.target === undefined ? '' : v.text('target', e.target, AUDIT_LIMITS.targetMax)
  const actor = v.identifier('actor', e.actor ?? defaultActor, AUDIT_LIMITS.actorMax)
  return { action, target, actor, details: v.metadata('details', e.details) }
}

/** Appends one entry to `tenant`'s chain, on `db` (a pool, or a client inside a transaction). */
export async function appendAudit(
  db: Queryable,
  tenant: string,
  entry: Required<AuditEntryInput>,
): Promise<RecordedAudit> {
  const { rows } = await db.query<{ entry_id: string; entry_seq: string; entry_at: Date }>({
    name: 'rb_audit_append',
    text: 'SELECT entry_id::text, entry_seq::text, entry_at FROM robot_brain.audit_append($1, $2, $3, $4, $5::jsonb)',
    values: [tenant, entry.actor, entry.action, entry.target, JSON.stringify(entry.details)],
  })
  const r = rows[0]
  if (!r) throw new Error('audit_append returned no row')
  return { id: r.entry_id, seq: Number(r.entry_seq), at: new Date(r.entry_at).toISOString() }
}

interface EventRow {
  id: string
  at: Date
  actor: string
  action: string
  target: string
  details: Record<string, unknown>
  seq: string
}

// Oldest first, keyset on the chain position: an auditor or a SIEM pulls forward with the cursor.
const LIST = `
SELECT a.id::text AS id, a.at, a.actor, a.action, a.target, a.details, a.seq::text AS seq
FROM robot_brain.use_tenant($1) AS ctx(tenant_id)
CROSS JOIN LATERAL (
  SELECT * FROM robot_brain.audit_log a
  WHERE a.tenant_id = ctx.tenant_id AND a.seq > $2::bigint AND a.at >= $3::timestamptz AND a.at < $4::timestamptz
  ORDER BY a.seq
  LIMIT $5
) a
ORDER BY a.seq`

function encodeSeq(seq: string): string {
  return Buffer.from(`a${seq}`, 'utf8').toString('base64url')
}

function decodeSeq(cursor: unknown): string {
  if (cursor === undefined || cursor === null || cursor === '') return '0'
  if (typeof cursor !== 'string' || cursor.length > 40)
    throw new ValidationError('cursor', 'is not a cursor of this list')
  const text = Buffer.from(cursor, 'base64url').toString('utf8')
  if (!/^a[1-9][0-9]{0,17}$/.test(text)) throw new ValidationError('cursor', 'is not a cursor of this list')
  return text.slice(1)
}

export interface AuditDeps {
  tenantId: string
  /** The default actor of this view (`library`, `key:<uuid>`, `anonymous`, `owner`). */
  actor: string
  app: () => Promise<DbPool>
  retry: <T>(fn: (attempt: number) => Promise<T>) => Promise<T>
}

export class AuditLog {
  constructor(private readonly deps: AuditDeps) {}

  /**
   * Records an entry in this tenant's chain. For other modules' operations (archive, restore,
   * encryption): `store.tenant(t).audit.record({ action: 'archive.month', target: 'month:2026-03',
   * details: { rows } })`. Inside a transaction of your own, use appendAudit(client, ...) instead, so
   * the entry commits with the change.
   */
  async record(input: AuditEntryInput): Promise<RecordedAudit> {
    const entry = validateEntry(input, this.deps.actor)
    const db = await this.deps.app()
    // Not retried: an append whose acknowledgement was lost may have committed, and a second one
    // would say the event happened twice.
    return appendAudit(db, this.deps.tenantId, entry)
  }

  /** Records an event of no tenant (an unknown key), in the system chain. */
  async recordSystem(input: AuditEntryInput): Promise<RecordedAudit> {
    const entry = validateEntry(input, this.deps.actor)
    return appendAudit(await this.deps.app(), SYSTEM_CHAIN, entry)
  }

  /** This tenant's entries, oldest first; pass nextCursor back as `cursor`. */
  async list(options: AuditListOptions = {}): Promise<AuditPage> {
    const o = v.options('options', options, ['from', 'to', 'limit', 'cursor'])
    const from = o.from === undefined || o.from === null ? null : v.timestamp('from', o.from)
    const to = o.to === undefined || o.to === null ? null : v.timestamp('to', o.to)
    if (from && to && from >= to) throw new ValidationError('to', 'must be later than from')
    const limit = v.limit('limit', o.limit, AUDIT_LIMITS.listDefault, AUDIT_LIMITS.listMax)
    const after = decodeSeq(o.cursor)
    const db = await this.deps.app()
    const { rows } = await this.deps.retry(() =>
      db.query<EventRow>({
        name: 'rb_audit_list',
        text: LIST,
        values: [
          this.deps.tenantId,
          after,
          from ? from.toISOString() : '-infinity',
          to ? to.toISOString() : 'infinity',
          limit + 1,
        ],
      }),
    )
    const page = rows.slice(0, limit)
    const last = page[page.length - 1]
    return {
      events: page.map((r) => ({
        id: r.id,
        at: new Date(r.at).toISOString(),
        actor: r.actor,
        action: r.action,
        target: r.target,
        details: r.details,
      })),
      nextCursor: rows.length > limit && last ? encodeSeq(last.seq) : null,
    }
  }
}
