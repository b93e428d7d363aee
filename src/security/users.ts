// One person's data: export it (their sessions and turns, as JSON lines records) and erase it
// (sessions, turns, embeddings, queued embeddings, rollup contributions), each recorded in the
// tenant's audit log without content. A user is the userId of sessions (a turn's userId sets it).
import type { DbPool } from '../db/pool.js'
import { LIMITS } from '../store/limits.js'
import type {
  HistoryOptions,
  HistoryPage,
  ListSessionsOptions,
  Session,
  SessionPage,
  Turn,
} from '../store/types.js'
import * as v from '../store/validate.js'
import { appendAudit } from './audit.js'

/** A line of an export: the format of `robot-brain-db export` (`type` first, then the API's fields). */
export type UserExportRecord =
  | ({ type: 'session'; tenantId: string } & Session)
  | ({ type: 'turn'; tenantId: string } & Turn)

export interface UserErasure {
  userId: string
  /** Sessions and turns erased by this call (0 when a previous call erased them: idempotent). */
  sessions: number
  turns: number
  /** The audit entry of this erasure. */
  auditId: string
}

export interface UsersDeps {
  tenantId: string
  actor: string
  app: () => Promise<DbPool>
  retry: <T>(fn: (attempt: number) => Promise<T>) => Promise<T>
  listSessions(options: ListSessionsOptions): Promise<SessionPage>
  history(sessionId: string, options: HistoryOptions): Promise<HistoryPage>
}

const PAGE = 100

export class Users {
  constructor(private readonly deps: UsersDeps) {}

  /**
   * The user's sessions, each followed by its turns oldest first, as export records. Checks the id
   * and records the export in the audit log before returning, so a bad id fails before anything is
   * streamed. Read page by page (keyset): a session written meanwhile may or may not be included.
   */
  async export(userId: string): Promise<AsyncIterable<UserExportRecord>> {
    const user = v.identifier('userId', userId, LIMITS.userIdMax)
    const db = await this.deps.app()
    await appendAudit(db, this.deps.tenantId, {
      actor: this.deps.actor,
      action: 'user.export',
      target: `user:${user}`,
      details: {},
    })
    return this.records(user)
  }

  private async *records(userId: string): AsyncGenerator<UserExportRecord> {
    const tenantId = this.deps.tenantId
    let cursor: string | null = null
    do {
      const page: SessionPage = await this.deps.listSessions({ userId, limit: PAGE, cursor })
      for (const session of page.sessions) {
        yield { type: 'session', tenantId, ...session }
        let after: string | null = null
        do {
          const turns: HistoryPage = await this.deps.history(session.id, { order: 'asc', after, limit: PAGE })
          for (const turn of turns.turns) yield { type: 'turn', tenantId, ...turn }
          after = turns.nextCursor
        } while (after)
      }
      cursor = page.nextCursor
    } while (cursor)
  }

  /**
   * Erases the user's sessions and, with them, their turns, embeddings and rollup contributions, in
   * one transaction with its audit entry (counts only). Erasing again erases nothing more and records
   * the request again. The session_stats view keeps the erased sessions' figures (counts and average
   * lengths, no text) until its next refresh (`maintain stats`).
   */
  async erase(userId: string): Promise<UserErasure> {
    const user = v.identifier('userId', userId, LIMITS.userIdMax)
    const db = await this.deps.app()
    // Retried as a whole: the function is idempotent, and a retry after a lost acknowledgement erases
    // nothing more (it records a second entry, which says the request came twice).
    const { rows } = await this.deps.retry(() =>
      db.query<{ sessions: number; turns: string; audit_id: string }>({
        name: 'rb_erase_user',
        text: 'SELECT sessions, turns::text AS turns, audit_id::text AS audit_id FROM robot_brain.erase_user($1, $2, $3)',
        values: [this.deps.tenantId, user, this.deps.actor],
      }),
    )
    const r = rows[0]
    if (!r) throw new Error('erase_user returned no row')
    return { userId: user, sessions: r.sessions, turns: Number(r.turns), auditId: r.audit_id }
  }
}
