// The Store: the library's public face. One StoreCore holds the transport and shared machinery;
// each Store is a view of it acting for one tenant (`default` unless made with tenant()).
import { type Config, optionsFromEnv, redactedConfig, resolveConfig, type StoreOptions } from '../config.js'
import {
  type MigrateResult,
  type MigrationState,
  migrate,
  migrationStatus,
  schemaIsCurrent,
} from '../db/migrate.js'
import { explainOwnerError } from '../db/owner-check.js'
import type { DbPool, Transport } from '../db/pool.js'
import { type RetryHooks, withRetry } from '../db/retry.js'
import { applyPooledStatementTimeout, type PooledTimeoutResult } from '../db/statement-timeout.js'
import { ConfigError, MigrationError, NotFoundError, ValidationError } from '../errors.js'
import { INSPECT_CUSTOM } from '../portable-types.js'
import { decodeCursor, encodeCursor } from './cursor.js'
import { GroupCommit } from './group-commit.js'
import { isUuid } from './ids.js'
import { InteractionBuffer, type InteractionBufferOptions } from './interaction-buffer.js'
import { insertInteractions, type NewInteraction } from './interactions.js'
import { LIMITS } from './limits.js'
import {
  deleteSessionRow,
  getSessionRow,
  listSessionRows,
  mergeSessionMetadata,
  toSession,
} from './sessions.js'
import { refreshSessionStats, sessionStatsRows } from './stats.js'
import { historyPage, insertTurns, type NewTurn, type TurnRow, toTurn, turnsById } from './turns.js'
import type {
  HistoryOptions,
  HistoryPage,
  InteractionInput,
  ListSessionsOptions,
  RecordInteractionsResult,
  RecordTurnResult,
  Session,
  SessionPage,
  SessionStats,
  Turn,
  TurnInput,
} from './types.js'
import * as v from './validate.js'

export const DEFAULT_TENANT = 'default'

/** Shared by every tenant view of one opened store. */
class StoreCore {
  /** The role application connections switch to, decided once the schema exists (null: none). */
  runtimeRole: string | null = null
  private ready: Promise<void> | undefined
  readonly turnWriter: GroupCommit<NewTurn, TurnRow | null> | undefined
  private readonly retryObservers = new Set<RetryHooks>()
  /** Fans retries out to every observer (metrics, logs, tests): see Store.observeRetries. */
  readonly retryHooks: RetryHooks = {
    onRetry: (...args) => {
      for (const o of this.retryObservers) o.onRetry?.(...args)
    },
    onGiveUp: (...args) => {
      for (const o of this.retryObservers) o.onGiveUp?.(...args)
    },
  }

  observeRetries(hooks: RetryHooks): () => void {
    this.retryObservers.add(hooks)
    return () => this.retryObservers.delete(hooks)
  }

  constructor(
    readonly config: Config,
    readonly transport: Transport,
  ) {
    if (config.groupCommit.enabled) {
      // PGlite has one connection: one batch at a time, so every turn that waits joins the next one.
      const slots = transport.driver === 'pglite' ? 1 : config.poolMax
      this.turnWriter = new GroupCommit(config.groupCommit, slots, (tenant, turns) =>
        this.writeTurns(tenant, turns),
      )
    }
  }

  /** Retries connection failures under the configured budget. */
  retry<T>(fn: (attempt: number) => Promise<T>): Promise<T> {
    return withRetry(fn, this.config.retry, this.retryHooks)
  }

  /** Decides, once, which role application queries run as. */
  ensureReady(): Promise<void> {
    this.ready ??= this.retry(() => this.decideRole()).catch((err) => {
      this.ready = undefined
      throw err
    })
    return this.ready
  }

  resetReady(): void {
    this.ready = undefined
  }

  /** Through a pooler, the app's statement_timeout lives on its login role (statement-timeout.ts). */
  async applyStatementTimeout(): Promise<PooledTimeoutResult> {
    if (!this.transport.pooled || !this.config.url) return 'skipped'
    const login = decodeURIComponent(new URL(this.config.url).username) || undefined
    return this.retry(() =>
      applyPooledStatementTimeout(this.transport.owner, login, this.config.statementTimeoutMs),
    )
  }

  private async decideRole(): Promise<void> {
    const role = this.config.runtimeRole
    const { rows } = await this.transport.app.query<{
      schema: boolean
      role_exists: boolean
      privileged: boolean
      owner: boolean
      member: boolean
      login: string
    }>({
      text: `SELECT to_regnamespace('robot_brain') IS NOT NULL AS schema,
                    EXISTS (SELECT FROM pg_roles WHERE rolname = $1) AS role_exists,
                    r.rolsuper OR r.rolbypassrls AS privileged,
                    EXISTS (SELECT FROM pg_namespace n WHERE n.nspname = 'robot_brain' AND n.nspowner = r.oid) AS owner,
                    EXISTS (SELECT FROM pg_roles a WHERE a.rolname = $1 AND pg_has_role(r.oid, a.oid, 'MEMBER')) AS member,
                    r.rolname AS login
             FROM pg_roles r WHERE r.rolname = session_user`,
      values: [role],
    })
    const r = rows[0]
    if (!r?.schema || !r.role_exists) {
      throw new MigrationError(
        'the database has no Robot Brain schema yet: run `robot-brain-db migrate` (or store.migrate()) first',
      )
    }
    const mustSwitch = r.privileged || r.owner
    if (mustSwitch && this.transport.pooled) {
      throw new ConfigError(
        `the application URL logs in as "${r.login}", which ${r.privileged ? 'bypasses row-level security' : 'owns the schema'}; ` +
          'through a transaction-mode pooler the store cannot switch roles per session. Connect the pooled URL as a ' +
          `login role that is a member of ${role} (CREATE ROLE app LOGIN PASSWORD '...' IN ROLE ${role}), and keep the owner for DATABASE_URL_UNPOOLED.`,
      )
    }
    if (!mustSwitch && !r.member) {
      throw new ConfigError(
        `the application role "${r.login}" is not a member of ${role}: GRANT ${role} TO "${r.login}"`,
      )
    }
    this.runtimeRole = mustSwitch ? role : null
  }

  async writeTurns(tenant: string, turns: NewTurn[]): Promise<Array<TurnRow | null>> {
    const inserted = await this.retry(() => insertTurns(this.transport.app, tenant, turns))
    const byId = new Map(inserted.map((r) => [r.id, r]))
    // The same id twice in one batch (concurrent replays) is stored once: only the first caller
    // gets it as created, the others answer as replays.
    return turns.map((t) => {
      const row = byId.get(t.id) ?? null
      byId.delete(t.id)
      return row
    })
  }

  async close(): Promise<void> {
    await this.transport.close()
  }
}

export class Store {
  /** @internal */
  constructor(
    private readonly core: StoreCore,
    /** The tenant this view acts for. */
    readonly tenantId: string,
  ) {}

  /** The resolved configuration (URLs redacted when printed). */
  get config(): Config {
    return this.core.config
  }

  /**
   * What console.log and JSON show of a store: its tenant and the redacted configuration. Without this
   * they would walk into the pools, whose options hold the connection string with its password.
   */
  [INSPECT_CUSTOM](): Record<string, unknown> {
    return { tenantId: this.tenantId, config: redactedConfig(this.core.config) }
  }

  toJSON(): Record<string, unknown> {
    return this[INSPECT_CUSTOM]()
  }

  /** The pools, for maintenance tasks and tests; application code should not need them. */
  get transport(): Transport {
    return this.core.transport
  }

  /**
   * Watches the store's retries of connection failures: `onRetry` before each retry (with the reason),
   * `onGiveUp` when an operation's budget runs out. Returns a function that stops watching.
   */
  observeRetries(hooks: RetryHooks): () => void {
    return this.core.observeRetries(hooks)
  }

  /** The same store acting for another tenant. Shares connections; close either to close both. */
  tenant(tenantId: string): Store {
    return new Store(this.core, v.tenantId(tenantId))
  }

  /** Applies pending migrations (on the direct URL, as the owner). Same as `robot-brain-db migrate`. */
  async migrate(options: { dryRun?: boolean } = {}): Promise<MigrateResult> {
    const owner = this.core.transport.owner
    const result = await this.core
      .retry(() => migrate(owner, options))
      .catch(async (err) => Promise.reject(await explainOwnerError(err, owner)))
    if (!options.dryRun) await this.core.applyStatementTimeout()
    this.core.resetReady()
    return result
  }

  migrationStatus(): Promise<MigrationState[]> {
    return this.core.retry(() => migrationStatus(this.core.transport.owner))
  }

  /** True when every migration this code knows is applied, and no unknown one. */
  schemaIsCurrent(): Promise<boolean> {
    return this.core.retry(() => schemaIsCurrent(this.core.transport.owner))
  }

  /**
   * Checks, once, that application queries can run: the schema exists and the app URL's login role
   * is usable (a member of robot_brain_app; not a privileged role through a transaction-mode pooler).
   * Throws MigrationError or ConfigError saying what to fix. `serve` calls it before listening and
   * /readyz before answering ready; other calls check the same on first use.
   */
  async ready(): Promise<void> {
    await this.core.ensureReady()
  }

  private async app(): Promise<DbPool> {
    await this.core.ensureReady()
    return this.core.transport.app
  }

  /**
   * Stores one turn and counts it into its session, atomically, in one round trip. Sending the same
   * `id` again stores nothing new and returns the stored turn.
   */
  async recordTurn(input: TurnInput): Promise<Turn> {
    return (await this.recordTurnResult(input)).turn
  }

  /** Like recordTurn, and says whether the turn was new (false: a replay of a stored id). */
  async recordTurnResult(input: TurnInput): Promise<RecordTurnResult> {
    const turn = validateTurn(input)
    const db = await this.app()
    const row = this.core.turnWriter
      ? await this.core.turnWriter.submit(this.tenantId, turn)
      : ((await this.core.writeTurns(this.tenantId, [turn]))[0] ?? null)
    if (row) return { turn: toTurn(row), created: true }
    const [stored] = await this.core.retry(() => turnsById(db, this.tenantId, [turn.id]))
    if (!stored) {
      // The id is taken by a row of another createdAt, which the key does not see as the same turn.
      throw new ValidationError('id', 'could not be stored and no turn with this id was found; send a new id')
    }
    return { turn: toTurn(stored), created: false }
  }

  /** A page of a session's turns, newest first. Pass `nextCursor` back as `before` for the next page. */
  async history(sessionId: string, options: HistoryOptions = {}): Promise<HistoryPage> {
    const sid = v.identifier('sessionId', sessionId, LIMITS.sessionIdMax)
    const limit = v.limit('limit', options.limit, LIMITS.historyLimitDefault, LIMITS.historyLimitMax)
    const before = decodeCursor('before', options.before, isUuid)
    const db = await this.app()
    // One row more than asked tells whether an older page exists, so the last page says null.
    const rows = await this.core.retry(() => historyPage(db, this.tenantId, sid, before, limit + 1))
    const page = rows.slice(0, limit)
    const last = page[page.length - 1]
    return {
      turns: page.map(toTurn),
      nextCursor: rows.length > limit && last ? encodeCursor({ us: last.created_us, id: last.id }) : null,
    }
  }

  async getSession(sessionId: string): Promise<Session> {
    const sid = v.identifier('sessionId', sessionId, LIMITS.sessionIdMax)
    const db = await this.app()
    const row = await this.core.retry(() => getSessionRow(db, this.tenantId, sid))
    if (!row) throw new NotFoundError(`session ${JSON.stringify(sid)} not found`)
    return toSession(row)
  }

  async listSessions(options: ListSessionsOptions = {}): Promise<SessionPage> {
    const limit = v.limit('limit', options.limit, LIMITS.listLimitDefault, LIMITS.listLimitMax)
    const after = decodeCursor('cursor', options.cursor)
    const activeSince =
      options.activeSince === undefined || options.activeSince === null
        ? null
        : v.timestamp('activeSince', options.activeSince)
    const db = await this.app()
    const rows = await this.core.retry(() =>
      listSessionRows(db, this.tenantId, activeSince, after, limit + 1),
    )
    const page = rows.slice(0, limit)
    const last = page[page.length - 1]
    return {
      sessions: page.map(toSession),
      nextCursor: rows.length > limit && last ? encodeCursor({ us: last.last_active_us, id: last.id }) : null,
    }
  }

  /**
   * Merges `patch` into the session's userMetadata (top-level keys replaced; a key set to null stays,
   * as null). The merged object, like each patch, must be at most LIMITS.metadataBytes as JSON: a
   * patch that would make it larger is a ValidationError naming userMetadata and changes nothing.
   */
  async updateSessionMetadata(sessionId: string, patch: Record<string, unknown>): Promise<Session> {
    const sid = v.identifier('sessionId', sessionId, LIMITS.sessionIdMax)
    const meta = v.metadata('userMetadata', patch)
    const db = await this.app()
    const row = await this.core.retry(() => mergeSessionMetadata(db, this.tenantId, sid, meta))
    if (!row) throw new NotFoundError(`session ${JSON.stringify(sid)} not found`)
    return toSession(row)
  }

  /** Deletes the session and all its turns. */
  async deleteSession(sessionId: string): Promise<void> {
    const sid = v.identifier('sessionId', sessionId, LIMITS.sessionIdMax)
    const db = await this.app()
    // A retry after a lost acknowledgement finds the session already gone: that is success.
    const deleted = await this.core.retry(
      async (attempt) => (await deleteSessionRow(db, this.tenantId, sid)) || attempt > 0,
    )
    if (!deleted) throw new NotFoundError(`session ${JSON.stringify(sid)} not found`)
  }

  /** Stores interaction events in one statement; ids already stored are skipped (idempotent). */
  async recordInteractions(events: InteractionInput[]): Promise<RecordInteractionsResult> {
    if (!Array.isArray(events)) throw new ValidationError('events', 'must be an array')
    if (events.length === 0) return { accepted: 0, inserted: 0 }
    if (events.length > LIMITS.eventsPerBatchMax * 100) {
      throw new ValidationError(
        'events',
        `must hold at most ${LIMITS.eventsPerBatchMax * 100} events per call`,
      )
    }
    const rows = events.map((e, i) => validateInteraction(e, `events[${i}]`))
    const db = await this.app()
    const inserted = await this.core.retry(() => insertInteractions(db, this.tenantId, rows))
    return { accepted: rows.length, inserted }
  }

  /**
   * A buffered writer for interaction events: batched in memory, one statement per batch, bounded,
   * flushed by close() (or on SIGTERM/SIGINT with `flushOnSignals`). Events go to this store's tenant
   * unless add() names another. See interaction-buffer.ts.
   */
  interactionBuffer(options?: InteractionBufferOptions): InteractionBuffer {
    return new InteractionBuffer(this, validateInteraction, options)
  }

  /** Statistics per session from the session_stats view (as fresh as its last refresh). */
  async sessionStats(options: { sessionId?: string; limit?: number } = {}): Promise<SessionStats[]> {
    const sid =
      options.sessionId === undefined
        ? null
        : v.identifier('sessionId', options.sessionId, LIMITS.sessionIdMax)
    const limit = v.limit('limit', options.limit, LIMITS.listLimitDefault, 10_000)
    const db = await this.app()
    return this.core.retry(() => sessionStatsRows(db, this.tenantId, sid, limit))
  }

  /** Rebuilds session_stats for every tenant, without blocking readers (owner pool). */
  async refreshSessionStats(): Promise<void> {
    await this.core.retry(() => refreshSessionStats(this.core.transport.owner))
  }

  /** Closes every pool (and the embedded database). */
  close(): Promise<void> {
    return this.core.close()
  }
}

function validateTurn(input: TurnInput): NewTurn {
  const t = v.requireObject('turn', input) as unknown as TurnInput
  const key = v.rowKey('id', t.id, 'createdAt', t.createdAt)
  return {
    id: key.id,
    createdAt: key.createdAt,
    sessionId: v.identifier('sessionId', t.sessionId, LIMITS.sessionIdMax),
    robotPersonality: v.identifier('robotPersonality', t.robotPersonality, LIMITS.nameMax),
    userMessage: v.text('userMessage', t.userMessage),
    robotResponse: v.text('robotResponse', t.robotResponse),
    metadata: v.metadata('metadata', t.metadata),
  }
}

export function validateInteraction(input: InteractionInput, at: string): NewInteraction {
  const e = v.requireObject(at, input) as unknown as InteractionInput
  const key = v.rowKey(`${at}.id`, e.id, `${at}.createdAt`, e.createdAt)
  if (
    typeof e.durationMs !== 'number' ||
    !Number.isInteger(e.durationMs) ||
    e.durationMs < 0 ||
    e.durationMs > 2_147_483_647
  ) {
    throw new ValidationError(`${at}.durationMs`, 'must be a non-negative integer (milliseconds)')
  }
  if (typeof e.success !== 'boolean') throw new ValidationError(`${at}.success`, 'must be true or false')
  return {
    id: key.id,
    createdAt: key.createdAt,
    robotId: v.identifier(`${at}.robotId`, e.robotId, LIMITS.nameMax),
    interactionType: v.identifier(`${at}.interactionType`, e.interactionType, LIMITS.nameMax),
    durationMs: e.durationMs,
    success: e.success,
    metadata: v.metadata(`${at}.metadata`, e.metadata),
  }
}

/**
 * Opens a store. With no argument, configuration comes from the environment (DATABASE_URL, ...);
 * with neither, an embedded PGlite database in ./.robot-brain/data.
 */
export async function openStore(options: StoreOptions = optionsFromEnv()): Promise<Store> {
  const config = resolveConfig(options)
  let core: StoreCore | undefined
  const runtimeRole = () => core?.runtimeRole ?? null
  // Each transport is loaded only when used: PGlite's WebAssembly and the Neon driver are heavy,
  // and a process talking to PostgreSQL over TCP needs neither.
  const transport =
    config.driver === 'pglite'
      ? await (await import('../db/pglite.js')).openPglite(config, runtimeRole)
      : config.driver === 'neon'
        ? (await import('../db/neon.js')).openNeon(config, runtimeRole)
        : (await import('../db/pg.js')).openPg(config, runtimeRole)
  core = new StoreCore(config, transport)
  return new Store(core, DEFAULT_TENANT)
}
