// The Store: the library's public face. One StoreCore holds the transport and shared machinery;
// each Store is a view of it acting for one tenant (`default` unless made with tenant()).
import { isDeepStrictEqual } from 'node:util'
import { Analytics } from '../analytics/analytics.js'
import { type Config, optionsFromEnv, redactedConfig, resolveConfig, type StoreOptions } from '../config.js'
import type { CallerPool } from '../db/caller-pool.js'
import {
  type MigrateResult,
  type MigrationState,
  migrate,
  migrationStatus,
  schemaIsCurrent,
} from '../db/migrate.js'
import type { OnlineStepOptions } from '../db/online-steps.js'
import { explainOwnerError } from '../db/owner-check.js'
import type { DbPool, Queryable, Transport } from '../db/pool.js'
import { ReadRouter, type ReplicaState } from '../db/read-routing.js'
import { deleteAttempts, type RetryHooks, withRetry } from '../db/retry.js'
import { deriveRuntimeRole, runtimeRoleFor, SHARED_ROLE } from '../db/runtime-role.js'
import type { PoolErrorListener } from '../db/server-transport.js'
import { SQLSTATE } from '../db/sqlstate.js'
import { applyPooledStatementTimeout, type PooledTimeoutResult } from '../db/statement-timeout.js'
import {
  ConfigError,
  ConflictError,
  MigrationError,
  NotFoundError,
  UnavailableError,
  ValidationError,
} from '../errors.js'
import type { ExportOpener } from '../lifecycle/export.js'
import { INSPECT_CUSTOM } from '../portable-types.js'
import { buildContext, CONTEXT_LIMITS } from '../search/context.js'
import type { Embedder } from '../search/embedders/embedder.js'
import { embedderFromEnv } from '../search/embedders/index.js'
import { SearchEngine } from '../search/engine.js'
import { validateFilters, validateSearch } from '../search/filters.js'
import type { BatchResult } from '../search/queue.js'
import type { ContextOptions, ContextResult, SearchOptions, SearchResponse } from '../search/types.js'
import { AuditLog } from '../security/audit.js'
import { checkMergedMetadata, StoreContent } from '../security/encryption/store-content.js'
import { TenantEncryption } from '../security/encryption/tenant-encryption.js'
import { Users } from '../security/users.js'
import { type StatsFreshness, statsFreshness } from '../upkeep/stats-refresh.js'
import { decodeCursor, encodeCursor } from './cursor.js'
import { GroupCommit } from './group-commit.js'
import { firstOfEach, isUuid } from './ids.js'
import {
  InteractionBuffer,
  type InteractionBufferOptions,
  type InteractionSink,
} from './interaction-buffer.js'
import {
  eventGroupCommit,
  insertInteractionBatches,
  insertInteractions,
  type NewInteraction,
} from './interactions.js'
import { LIMITS } from './limits.js'
import { turnsToMessages } from './messages.js'
import {
  deleteSessionRow,
  getSessionRow,
  listSessionRows,
  mergeSessionMetadata,
  putSessionRow,
  replaceSessionMetadata,
  type SessionRow,
  toSession,
  updateSessionRow,
} from './sessions.js'
import { refreshSessionStats, sessionStatsRows } from './stats.js'
import {
  completeTurnRow,
  deleteTurnRow,
  historyPage,
  insertTurns,
  type NewTurn,
  type TurnRow,
  toTurn,
  turnsById,
  type WrittenRow,
} from './turns.js'
import type {
  CompleteTurnInput,
  HistoryOptions,
  HistoryPage,
  InteractionInput,
  ListSessionsOptions,
  MessagesOptions,
  MessagesPage,
  PutSessionInput,
  PutSessionResult,
  RecordInteractionsResult,
  RecordTurnResult,
  Session,
  SessionPage,
  SessionStats,
  Turn,
  TurnInput,
  UpdateSessionInput,
} from './types.js'
import * as v from './validate.js'

export const DEFAULT_TENANT = 'default'

/**
 * openStore's options: the connection (StoreOptions) and the embedder. `embedder` undefined: from
 * the environment (EMBEDDINGS_URL → an OpenAI-compatible endpoint, EMBEDDINGS=off → none, else the
 * built-in model); null: no embeddings; or any object with model, dimensions and embed().
 */
export type OpenStoreOptions = StoreOptions & {
  embedder?: Embedder | null
  /**
   * The application's own pool (a `pg.Pool`, or a `Pool` of `@neondatabase/serverless` with
   * `driver: 'neon'`) for the store's queries, instead of one opened from `url`. Its login role must be
   * a member of the runtime role: the store never changes the state of connections it does not own,
   * and never ends this pool. With `directUrl`, migrations and maintenance use a pool of the store's
   * own on it (ended by close()); without, the given pool.
   */
  pool?: CallerPool
  /** The application's own pool on a read replica, for the reads routed there (never ended either). */
  readPool?: CallerPool
  /** Master keys of encrypted tenants, as ROBOT_BRAIN_MASTER_KEY (`id:base64key,...`); default: that variable. */
  masterKey?: string
}

/** Shared by every tenant view of one opened store. */
class StoreCore {
  /** The role application connections switch to, decided once the schema exists (null: none). */
  runtimeRole: string | null = null
  private role: Promise<string> | undefined
  private ready: Promise<void> | undefined
  readonly turnWriter: GroupCommit<NewTurn, WrittenRow | null> | undefined
  readonly eventWriter: GroupCommit<NewInteraction[], number> | undefined
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

  private readonly poolErrorObservers = new Set<PoolErrorListener>()
  /** Fans lost connections out to every observer (metrics, tests): see Store.observePoolErrors. */
  readonly poolError: PoolErrorListener = (err, pool) => {
    for (const o of this.poolErrorObservers) o(err, pool)
  }

  observePoolErrors(listener: PoolErrorListener): () => void {
    this.poolErrorObservers.add(listener)
    return () => this.poolErrorObservers.delete(listener)
  }

  readonly search: SearchEngine
  /** Sealing and opening encrypted tenants' content (src/security/encryption/). */
  readonly content: StoreContent
  /** Where analytics, search and statistics read: the replica when fresh, else the primary. */
  readonly reads: ReadRouter

  constructor(
    readonly config: Config,
    readonly transport: Transport,
    embedder: Embedder | null,
    masterKey?: string,
  ) {
    this.content = new StoreContent(masterKey)
    this.reads = new ReadRouter(transport.app, transport.read === transport.app ? null : transport.read, {
      maxLagMs: config.readMaxLagMs,
      // Often enough that the lag is known to a quarter of the bound; at most once a second.
      checkIntervalMs: Math.min(1000, Math.max(50, Math.floor(config.readMaxLagMs / 4))),
      checkTimeoutMs: Math.min(2000, config.connectTimeoutMs),
    })
    this.search = new SearchEngine(
      transport,
      embedder,
      (fn) => this.retry(fn),
      (tenant) => this.reads.reader(tenant),
    )
    this.search.openTexts = (rows) => this.content.openQueuedTexts(transport.owner, rows)
    if (config.groupCommit.enabled) {
      // PGlite has one connection: one batch at a time, so every turn that waits joins the next one.
      const slots = transport.driver === 'pglite' ? 1 : config.poolMax
      this.turnWriter = new GroupCommit(config.groupCommit, slots, (tenant, turns) =>
        this.writeTurns(tenant, turns),
      )
      this.eventWriter = eventGroupCommit(config.groupCommit, slots, (tenant, batches) =>
        this.retry(() => insertInteractionBatches(this.transport.app, tenant, batches)),
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
      throw this.explainConnectRefusal(err)
    })
    return this.ready
  }

  /**
   * "permission denied for database" (42501 at connect): since migration 0007 only the database's
   * runtime role may connect, and logins made for earlier versions are in the shared role instead.
   */
  private explainConnectRefusal(err: unknown): unknown {
    const e = err as { code?: string; message?: string }
    if (
      e?.code !== SQLSTATE.INSUFFICIENT_PRIVILEGE ||
      !/permission denied for database/.test(e.message ?? '')
    )
      return err
    const url = this.config.url ? new URL(this.config.url) : undefined
    const login = url ? decodeURIComponent(url.username) : ''
    const database = url ? decodeURIComponent(url.pathname.slice(1)) || login : ''
    const role = this.config.runtimeRole ?? deriveRuntimeRole(database)
    return new ConfigError(
      `the application's login role "${login}" may not connect to database "${database}": only members of its ` +
        `runtime role ${role} may (logins made for earlier versions are in the shared ${SHARED_ROLE}, which no longer ` +
        `may). As the owner: GRANT ${role} TO "${login}" (or run robot-brain-db migrate with this DATABASE_URL)`,
      { cause: err },
    )
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

  /** The database's runtime role (configured, or robot_brain_app_<database>), asked once. */
  roleName(db: Queryable): Promise<string> {
    this.role ??= runtimeRoleFor(db, this.config.runtimeRole).catch((err) => {
      this.role = undefined
      throw err
    })
    return this.role
  }

  private async decideRole(): Promise<void> {
    const role = await this.roleName(this.transport.app)
    const { rows } = await this.transport.app.query<{
      schema: boolean
      role_exists: boolean
      privileged: boolean
      owner: boolean
      member: boolean
      shared: boolean
      login: string
    }>({
      text: `SELECT to_regnamespace('robot_brain') IS NOT NULL AS schema,
                    EXISTS (SELECT FROM pg_roles WHERE rolname = $1) AS role_exists,
                    r.rolsuper OR r.rolbypassrls AS privileged,
                    EXISTS (SELECT FROM pg_namespace n WHERE n.nspname = 'robot_brain' AND n.nspowner = r.oid) AS owner,
                    EXISTS (SELECT FROM pg_roles a WHERE a.rolname = $1 AND pg_has_role(r.oid, a.oid, 'MEMBER')) AS member,
                    EXISTS (SELECT FROM pg_roles a WHERE a.rolname = $2 AND pg_has_role(r.oid, a.oid, 'MEMBER')) AS shared,
                    r.rolname AS login
             FROM pg_roles r WHERE r.rolname = session_user`,
      values: [role, SHARED_ROLE],
    })
    const r = rows[0]
    if (!r?.schema) {
      throw new MigrationError(
        'the database has no Robot Brain schema yet: run `robot-brain-db migrate` (or store.migrate()) first',
      )
    }
    if (!r.role_exists) {
      throw new MigrationError(
        `the database's runtime role ${role} does not exist yet (each database has its own since migration 0007): ` +
          'run `robot-brain-db migrate` (or store.migrate()) as the owner',
      )
    }
    const mustSwitch = r.privileged || r.owner
    if (mustSwitch && this.transport.callerPool) {
      throw new ConfigError(
        `the pool given to openStore logs in as "${r.login}", which ${r.privileged ? 'bypasses row-level security' : 'owns the schema'}; ` +
          'the store does not change the role of connections it does not own. Give it a pool that logs in as a ' +
          `login role that is a member of ${role} (CREATE ROLE app LOGIN PASSWORD '...' IN ROLE ${role}), and the owner's URL as directUrl.`,
      )
    }
    if (mustSwitch && this.transport.pooled) {
      throw new ConfigError(
        `the application URL logs in as "${r.login}", which ${r.privileged ? 'bypasses row-level security' : 'owns the schema'}; ` +
          'through a transaction-mode pooler the store cannot switch roles per session. Connect the pooled URL as a ' +
          `login role that is a member of ${role} (CREATE ROLE app LOGIN PASSWORD '...' IN ROLE ${role}), and keep the owner for DATABASE_URL_UNPOOLED.`,
      )
    }
    if (!mustSwitch && !r.member) {
      const legacy = r.shared
        ? ` (it is in ${SHARED_ROLE}, the role every database shared before: that gives it nothing any more)`
        : ''
      throw new ConfigError(
        `the application role "${r.login}" is not a member of ${role}, this database's runtime role${legacy}: GRANT ${role} TO "${r.login}"`,
      )
    }
    this.runtimeRole = mustSwitch ? role : null
  }

  /**
   * Writes a batch; per turn, its inserted row (created), the first row of its id when the batch held
   * the id twice (created false: the caller compares contents), or null when the id was stored before
   * (the caller looks the stored turn up: replays are rare).
   */
  async writeTurns(tenant: string, turns: NewTurn[]): Promise<Array<WrittenRow | null>> {
    // The same id twice in one batch (concurrent replays) is sent once: the first caller gets it as
    // created, the others as replays of it.
    const unique = firstOfEach(turns, (t) => t.id)
    const written = await this.retry(() => insertTurns(this.transport.app, tenant, unique))
    const byId = new Map(written.map((r) => [r.id, r]))
    return turns.map((t) => {
      const row = byId.get(t.id)
      if (!row) return null
      if (row.created) byId.set(t.id, { ...row, created: false })
      return row
    })
  }

  /** Stores one caller's events in a statement of their own: how many were new. */
  writeInteractions(tenant: string, events: NewInteraction[]): Promise<number> {
    return this.retry(() => insertInteractions(this.transport.app, tenant, events))
  }

  /** Stores one caller's events, with those of concurrent callers when group commit is on. */
  recordInteractions(tenant: string, events: NewInteraction[]): Promise<number> {
    return this.eventWriter ? this.eventWriter.submit(tenant, events) : this.writeInteractions(tenant, events)
  }

  async close(): Promise<void> {
    await this.search.close()
    await this.transport.close()
  }
}

export class Store {
  /** @internal */
  constructor(
    private readonly core: StoreCore,
    /** The tenant this view acts for. */
    readonly tenantId: string,
    /** Who this view acts as, in the audit log: `library`, or `key:<uuid>` for a request. */
    readonly actor: string = 'library',
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

  /**
   * Watches the connections the pools lose (a server restart, a suspended compute, a terminated
   * backend): the pool drops each one and opens another when needed; a query running on it is retried.
   * Returns a function that stops watching. `serve` counts them in /metrics.
   */
  observePoolErrors(listener: PoolErrorListener): () => void {
    return this.core.observePoolErrors(listener)
  }

  /** The same store acting for another tenant. Shares connections; close either to close both. */
  tenant(tenantId: string): Store {
    return new Store(this.core, v.tenantId(tenantId), this.actor)
  }

  /** The same store, recording `actor` in the audit log for what it changes (e.g. `key:<uuid>`). */
  as(actor: string): Store {
    return new Store(this.core, this.tenantId, v.identifier('actor', actor, 200))
  }

  /**
   * This tenant's tamper-evident audit log: `record({ action, target, details })` and
   * `list({ from, to, limit, cursor })`. Verify every chain with `robot-brain-db audit verify`.
   */
  get audit(): AuditLog {
    return new AuditLog({
      tenantId: this.tenantId,
      actor: this.actor,
      app: () => this.app(),
      retry: (fn) => this.core.retry(fn),
    })
  }

  /**
   * This tenant's column-level encryption: `status()`, `enable()`, `rotate({ masterOnly })`, `shred()`.
   * An encrypted tenant's messages and userMetadata are sealed here before any statement; reads open them.
   */
  get encryption(): TenantEncryption {
    return new TenantEncryption({
      tenantId: this.tenantId,
      actor: this.actor,
      app: () => this.app(),
      content: this.core.content,
      retry: (fn) => this.core.retry(fn),
    })
  }

  /**
   * Opens encrypted tenants' content read as the owner (export reads rows itself): sealed texts and
   * userMetadata opened with each tenant's keys, plain rows as they are.
   */
  contentOpener(): ExportOpener {
    const content = this.core.content
    const owner = this.core.transport.owner
    return {
      turns: (tenant, rows) => content.openTurns(owner, tenant, rows),
      sessions: (tenant, rows) => content.openSessions(owner, tenant, rows),
    }
  }

  /** One user's data in this tenant: `export(userId)` and `erase(userId)` (both audited). */
  get users(): Users {
    return new Users({
      tenantId: this.tenantId,
      actor: this.actor,
      app: () => this.app(),
      retry: (fn) => this.core.retry(fn),
      listSessions: (o) => this.listSessions(o),
      history: (sid, o) => this.history(sid, o),
    })
  }

  /** Applies pending migrations (on the direct URL, as the owner). Same as `robot-brain-db migrate`. */
  async migrate(options: { dryRun?: boolean; onlineSteps?: OnlineStepOptions } = {}): Promise<MigrateResult> {
    const owner = this.core.transport.owner
    const onlineSteps = { concurrently: this.core.transport.driver !== 'pglite', ...options.onlineSteps }
    // The application URL's login gets this database's runtime role (an upgraded deployment keeps working).
    const url = this.core.config.driver === 'pglite' ? undefined : this.core.config.url
    const appLogin = url ? decodeURIComponent(new URL(url).username) || undefined : undefined
    const result = await this.core
      .retry(async () =>
        migrate(owner, {
          dryRun: options.dryRun,
          onlineSteps,
          runtimeRole: await this.core.roleName(owner),
          appLogin,
        }),
      )
      .catch(async (err) => Promise.reject(await explainOwnerError(err, owner)))
      .finally(() => this.core.reads.noteWrite(null))
    if (!options.dryRun) await this.core.applyStatementTimeout()
    this.core.resetReady()
    return result
  }

  /**
   * The database's runtime role: ROBOT_BRAIN_APP_ROLE (runtimeRole), or robot_brain_app_<database>.
   * The application's login role must be a member of it (migrate makes the DATABASE_URL login one).
   */
  runtimeRoleName(): Promise<string> {
    return this.core.retry(() => this.core.roleName(this.core.transport.owner))
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
   * is usable (a member of the database's runtime role; not a privileged role through a transaction-mode pooler).
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

  /** The pool this tenant's analytics, search and statistics read: the replica when it is fresh. */
  private async routedReads(): Promise<DbPool> {
    await this.core.ensureReady()
    return this.core.reads.reader(this.tenantId)
  }

  /** Runs a write; afterwards (even after a failure, which may have committed) this tenant reads its own writes. */
  private async writing<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn()
    } finally {
      this.core.reads.noteWrite(this.tenantId)
    }
  }

  /**
   * The read replica as routing sees it: configured, up, lag, whether it serves reads now, and reads
   * so far by where they ran. `check: true` asks the replica first (status does); otherwise the last
   * check's verdict, aged to now.
   */
  async replica(options: { check?: boolean } = {}): Promise<ReplicaState> {
    const reads = this.core.reads
    if (options.check && reads.configured) {
      await reads.check()
      // A busy primary moves on while the replica answers: the lag is known from the second check.
      if (reads.state().up && reads.state().lagMs === null) {
        await new Promise((resolve) => setTimeout(resolve, reads.options.checkIntervalMs))
        await reads.check()
      }
    }
    return reads.state()
  }

  /**
   * Stores one turn and counts it into its session, atomically, in one round trip. Sending the same
   * `id` again with the same content stores nothing new and returns the stored turn; with other
   * content it is a ConflictError. Without robotResponse the turn awaits its answer (completeTurn).
   */
  async recordTurn(input: TurnInput): Promise<Turn> {
    return (await this.recordTurnResult(input)).turn
  }

  /** Like recordTurn, and says whether the turn was new (false: a replay of a stored id). */
  async recordTurnResult(input: TurnInput): Promise<RecordTurnResult> {
    return this.writing(() => this.storeTurn(input))
  }

  private async storeTurn(input: TurnInput): Promise<RecordTurnResult> {
    const turn = validateTurn(input)
    const embedding = validateEmbedding(input.embedding)
    const db = await this.app().catch((err) => Promise.reject(withTurnId(err, turn.id)))
    // An encrypted tenant's texts are sealed here, before group commit and the statement see them.
    const content = this.core.content
    const sent = await content
      .sealedWrite(db, this.tenantId, (c) => {
        const sealed = content.sealTurn(c, turn)
        return this.core.turnWriter
          ? this.core.turnWriter.submit(this.tenantId, sealed)
          : this.core.writeTurns(this.tenantId, [sealed]).then((rows) => rows[0] ?? null)
      })
      .catch((err) => Promise.reject(withTurnId(err, turn.id)))
    // What was written is what was sent: answer with the plain text rather than open it again.
    const written = sent?.created
      ? { ...sent, user_message: turn.userMessage, robot_response: turn.robotResponse }
      : sent
    if (written?.created) {
      if (embedding) {
        await this.core.search.storeClientVectors(this.tenantId, [
          { turnId: written.id, createdAt: turn.createdAt, model: embedding.model, vector: embedding.vector },
        ])
      }
      this.core.search.poke()
      return { turn: toTurn(written), created: true }
    }
    // Stored before, by an earlier or a concurrent statement: look it up (replays are rare).
    const found = written ?? (await this.core.retry(() => turnsById(db, this.tenantId, [turn.id])))[0]
    const stored = found && (await content.openTurns(db, this.tenantId, [found]))[0]
    if (!stored) {
      // The id is taken by a row of another createdAt, which the key does not see as the same turn.
      throw new ValidationError('id', 'could not be stored and no turn with this id was found; send a new id')
    }
    const differs = replayDifference(turn, stored)
    if (differs) {
      throw new ConflictError(
        `turn ${turn.id} is already stored with another ${differs}: an id names one turn; send a new id for another turn` +
          (differs === 'robotResponse' && stored.robot_response === null
            ? ', or add the answer to the stored turn with completeTurn (PATCH .../turns/{turnId})'
            : ''),
      )
    }
    return { turn: toTurn(stored), created: false }
  }

  /**
   * Adds the robot's answer to a turn stored without one (a streamed reply); `metadata` is merged into
   * the turn's. The session's messageCount does not change: the turn was counted when stored. The
   * same answer again is a no-op; another answer is a ConflictError.
   */
  async completeTurn(sessionId: string, turnId: string, input: CompleteTurnInput): Promise<Turn> {
    const sid = v.identifier('sessionId', sessionId, LIMITS.sessionIdMax)
    const id = v.uuid('turnId', turnId)
    const body = v.knownFields('', v.requireObject('completeTurn', input) as unknown as CompleteTurnInput, [
      'robotResponse',
      'metadata',
    ])
    const robotResponse = v.text('robotResponse', body.robotResponse)
    const patch = v.metadata('metadata', body.metadata)
    const db = await this.app()
    const content = this.core.content
    const done = await this.writing(() =>
      content.sealedWrite(db, this.tenantId, (c) =>
        this.core.retry(() =>
          completeTurnRow(db, this.tenantId, sid, id, content.sealResponse(c, id, robotResponse), patch),
        ),
      ),
    )
    const result = done && {
      ...done,
      row: (await content.openTurns(db, this.tenantId, [done.row]))[0] as TurnRow,
    }
    if (!result) throw new NotFoundError(`turn ${id} not found in session ${JSON.stringify(sid)}`)
    if (result.outcome === 'conflict') {
      throw new ConflictError(
        `turn ${id} already has ${result.row.robot_response === robotResponse ? 'other metadata' : 'another robotResponse'}; an answer is added once`,
      )
    }
    if (result.outcome === 'too_large') {
      throw new ValidationError(
        'metadata',
        `merged into the turn's metadata it would exceed ${LIMITS.metadataBytes} bytes as JSON`,
      )
    }
    return toTurn(result.row)
  }

  /** Deletes one turn; its session's messageCount goes down by one. */
  async deleteTurn(sessionId: string, turnId: string): Promise<void> {
    const sid = v.identifier('sessionId', sessionId, LIMITS.sessionIdMax)
    const id = v.uuid('turnId', turnId)
    const db = await this.app()
    // A retry after a lost acknowledgement finds the turn already gone: that is success (but not
    // after a conflict, which rolled back: then a concurrent delete took it).
    const deleted = await this.writing(() =>
      this.core.retry(deleteAttempts(() => deleteTurnRow(db, this.tenantId, sid, id))),
    )
    if (!deleted) throw new NotFoundError(`turn ${id} not found in session ${JSON.stringify(sid)}`)
  }

  /**
   * A page of a session's turns. `order: 'desc'` (default): newest first, pass `nextCursor` back as
   * `before`. `order: 'asc'`: oldest first from the start, pass `nextCursor` back as `after`.
   */
  async history(sessionId: string, options?: HistoryOptions): Promise<HistoryPage> {
    const sid = v.identifier('sessionId', sessionId, LIMITS.sessionIdMax)
    const o = v.options('options', options, ['limit', 'order', 'before', 'after'])
    const limit = v.limit('limit', o.limit, LIMITS.historyLimitDefault, LIMITS.historyLimitMax)
    const order = o.order ?? 'desc'
    if (order !== 'asc' && order !== 'desc') throw new ValidationError('order', "must be 'asc' or 'desc'")
    const [cursorField, other] =
      order === 'asc' ? (['after', 'before'] as const) : (['before', 'after'] as const)
    if (o[other] !== undefined && o[other] !== null && o[other] !== '') {
      throw new ValidationError(
        other,
        `does not apply to order '${order}': pass nextCursor as ${cursorField} (before pages newest first, after oldest first)`,
      )
    }
    const from = turnCursor(cursorField, o[cursorField])
    const db = await this.app()
    // One row more than asked tells whether another page exists, so the last page says null. A page
    // also ends where its text passes LIMITS.historyPageBytes: then rows were left out, and more exist.
    const rows = await this.core.retry(() => historyPage(db, this.tenantId, sid, from, limit + 1, order))
    const page = await this.core.content.openTurns(db, this.tenantId, rows.slice(0, limit))
    const last = page[page.length - 1]
    const fetched = Number(rows[0]?.fetched ?? 0)
    return {
      turns: page.map(toTurn),
      nextCursor: fetched > page.length && last ? encodeCursor({ us: last.created_us, id: last.id }) : null,
    }
  }

  /**
   * A session's latest turns as chat messages, oldest first: each turn's user message, then its
   * answer when it has one; ready for OpenAI, Anthropic or Vercel AI SDK message lists. `limit` counts
   * turns (the newest before `before`); `maxTokens` drops the oldest turns until the estimate fits
   * (estimateTokens: o200k_base tokens per content, plus 4 per message). `nextCursor` (as `before`)
   * reads the turns older than those returned.
   */
  async messages(sessionId: string, options?: MessagesOptions): Promise<MessagesPage> {
    const sid = v.identifier('sessionId', sessionId, LIMITS.sessionIdMax)
    const o = v.options('options', options, ['limit', 'before', 'maxTokens'])
    const limit = v.limit('limit', o.limit, LIMITS.historyLimitDefault, LIMITS.historyLimitMax)
    const maxTokens =
      o.maxTokens === undefined || o.maxTokens === null
        ? null
        : v.limit('maxTokens', o.maxTokens, 0, LIMITS.maxTokensMax)
    const before = turnCursor('before', o.before)
    const db = await this.app()
    const rows = await this.core.retry(() => historyPage(db, this.tenantId, sid, before, limit + 1))
    const page = await this.core.content.openTurns(db, this.tenantId, rows.slice(0, limit))
    return turnsToMessages(page, Number(rows[0]?.fetched ?? 0) > page.length, maxTokens)
  }

  async getSession(sessionId: string): Promise<Session> {
    const sid = v.identifier('sessionId', sessionId, LIMITS.sessionIdMax)
    const db = await this.app()
    const row = await this.core.retry(() => getSessionRow(db, this.tenantId, sid))
    if (!row) throw new NotFoundError(`session ${JSON.stringify(sid)} not found`)
    return toSession(await this.openSession(db, row))
  }

  /**
   * Sessions, most recently active first; `userId` lists one user's, `robotPersonality` those with a
   * turn of that personality. Pass `nextCursor` as `cursor`.
   */
  async listSessions(opts?: ListSessionsOptions): Promise<SessionPage> {
    const options = v.options('options', opts, [
      'limit',
      'cursor',
      'activeSince',
      'userId',
      'robotPersonality',
    ])
    const limit = v.limit('limit', options.limit, LIMITS.listLimitDefault, LIMITS.listLimitMax)
    const after = decodeCursor('cursor', options.cursor)
    const activeSince =
      options.activeSince === undefined || options.activeSince === null
        ? null
        : v.timestamp('activeSince', options.activeSince)
    const userId =
      options.userId === undefined || options.userId === null
        ? null
        : v.identifier('userId', options.userId, LIMITS.userIdMax)
    const personality =
      options.robotPersonality === undefined || options.robotPersonality === null
        ? null
        : v.identifier('robotPersonality', options.robotPersonality, LIMITS.nameMax)
    const db = await this.app()
    const rows = await this.core.retry(() =>
      listSessionRows(db, this.tenantId, activeSince, after, limit + 1, userId, personality),
    )
    const page = await this.core.content.openSessions(db, this.tenantId, rows.slice(0, limit))
    const last = page[page.length - 1]
    return {
      sessions: page.map(toSession),
      nextCursor: rows.length > limit && last ? encodeCursor({ us: last.last_active_us, id: last.id }) : null,
    }
  }

  /**
   * Creates the session (before its first turn), or updates it: `userId` sets the user (null removes
   * it), `userMetadata` replaces the metadata; a field left out keeps its value ({} for a new session).
   */
  async putSession(sessionId: string, input: PutSessionInput = {}): Promise<Session> {
    return (await this.putSessionResult(sessionId, input)).session
  }

  /** Like putSession, and says whether the session was created. */
  async putSessionResult(sessionId: string, input: PutSessionInput = {}): Promise<PutSessionResult> {
    const sid = v.identifier('sessionId', sessionId, LIMITS.sessionIdMax)
    const body = v.knownFields('', v.requireObject('session', input) as unknown as PutSessionInput, [
      'userId',
      'userMetadata',
    ])
    const userId = optionalUserId(body.userId)
    const meta = body.userMetadata === undefined ? undefined : v.metadata('userMetadata', body.userMetadata)
    const db = await this.app()
    const content = this.core.content
    const row = await this.writing(() =>
      content.sealedWrite(db, this.tenantId, (c) =>
        this.core.retry(() =>
          putSessionRow(db, this.tenantId, sid, userId, meta && content.sealMetadata(c, sid, meta)),
        ),
      ),
    )
    return { session: toSession(await this.openSession(db, row)), created: row.created }
  }

  /**
   * Updates a stored session: `userId` sets the user (null removes it), `userMetadata` is merged
   * (top-level keys replaced). NotFoundError when there is no such session.
   */
  async updateSession(sessionId: string, input: UpdateSessionInput): Promise<Session> {
    const sid = v.identifier('sessionId', sessionId, LIMITS.sessionIdMax)
    const body = v.knownFields('', v.requireObject('session', input) as unknown as UpdateSessionInput, [
      'userId',
      'userMetadata',
    ])
    const userId = optionalUserId(body.userId)
    const meta = body.userMetadata === undefined ? undefined : v.metadata('userMetadata', body.userMetadata)
    if (userId === undefined) {
      if (meta === undefined) throw new ValidationError('userMetadata', 'or userId is required')
      return this.updateSessionMetadata(sid, meta)
    }
    const db = await this.app()
    if (meta !== undefined && (await this.core.content.state(db, this.tenantId)).version !== 0) {
      // Encrypted: the user is set, then the metadata merged in the application (sealedMerge).
      const row = await this.writing(() =>
        this.core.retry(() => updateSessionRow(db, this.tenantId, sid, userId, undefined)),
      )
      if (!row) throw new NotFoundError(`session ${JSON.stringify(sid)} not found`)
      return this.updateSessionMetadata(sid, meta)
    }
    const row = await this.writing(() =>
      this.core.retry(() => updateSessionRow(db, this.tenantId, sid, userId, meta)),
    )
    if (!row) throw new NotFoundError(`session ${JSON.stringify(sid)} not found`)
    return toSession(await this.openSession(db, row))
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
    const row = await this.writing(() =>
      this.core.content.sealedWrite(db, this.tenantId, (c) =>
        c.version === 0
          ? this.core.retry(() => mergeSessionMetadata(db, this.tenantId, sid, meta))
          : this.sealedMerge(db, sid, meta),
      ),
    )
    if (!row) throw new NotFoundError(`session ${JSON.stringify(sid)} not found`)
    return toSession(await this.openSession(db, row))
  }

  /**
   * Merges into an encrypted session's userMetadata: the database cannot merge ciphertext, so the
   * stored object is opened, merged, checked against the limit and sealed here, and written only if
   * unchanged meanwhile (else merged again).
   */
  private async sealedMerge(
    db: DbPool,
    sid: string,
    patch: Record<string, unknown>,
  ): Promise<SessionRow | undefined> {
    const content = this.core.content
    for (;;) {
      const stored = await this.core.retry(() => getSessionRow(db, this.tenantId, sid))
      if (!stored) return undefined
      const merged = { ...(await this.openSession(db, stored)).user_metadata, ...patch }
      checkMergedMetadata(merged)
      const c = await content.state(db, this.tenantId)
      const row = await this.core.retry(() =>
        replaceSessionMetadata(
          db,
          this.tenantId,
          sid,
          stored.user_metadata,
          content.sealMetadata(c, sid, merged),
        ),
      )
      if (row) return row
    }
  }

  private async openSession<R extends SessionRow>(db: DbPool, row: R): Promise<R> {
    return (await this.core.content.openSessions(db, this.tenantId, [row]))[0] as R
  }

  /** Deletes the session and all its turns, and records it in the audit log (same transaction). */
  async deleteSession(sessionId: string): Promise<void> {
    const sid = v.identifier('sessionId', sessionId, LIMITS.sessionIdMax)
    const db = await this.app()
    // A retry after a lost acknowledgement finds the session already gone: that is success (but not
    // after a conflict, which rolled back: then a concurrent delete took it).
    const deleted = await this.writing(() =>
      this.core.retry(deleteAttempts(() => deleteSessionRow(db, this.tenantId, sid, this.actor))),
    )
    if (!deleted) throw new NotFoundError(`session ${JSON.stringify(sid)} not found`)
  }

  /**
   * Stores interaction events in one statement (with those of concurrent calls for this tenant, by
   * group commit); ids already stored are skipped (idempotent).
   */
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
    await this.app()
    const inserted = await this.writing(() => this.core.recordInteractions(this.tenantId, rows))
    return { accepted: rows.length, inserted }
  }

  /**
   * A buffered writer for interaction events: batched in memory, one statement per batch, bounded,
   * flushed by close() (or on SIGTERM/SIGINT with `flushOnSignals`). Events go to this store's tenant
   * unless add() names another. See interaction-buffer.ts.
   */
  interactionBuffer(options?: InteractionBufferOptions): InteractionBuffer {
    return new InteractionBuffer(this.interactionSink(), options)
  }

  /** What the buffer needs of a store: validation once at add(), then one statement per batch. */
  private interactionSink(): InteractionSink {
    return {
      defaultTenant: this.tenantId,
      tenant: (id) => v.tenantId(id),
      validate: validateInteraction,
      // The buffer batches and bounds its statements itself (maxBatch events, `concurrency` at once):
      // its batches skip group commit, so each is one statement as its options say.
      write: async (tenant, rows) => {
        await this.app()
        return this.core.writeInteractions(tenant, rows)
      },
    }
  }

  /**
   * Personality and interaction analytics for this tenant, answered from the real-time rollups:
   * `store.analytics.personalities({ from, to, bucket })`, `store.analytics.interactions({ from, to,
   * groupBy, bucket, failures })`.
   */
  get analytics(): Analytics {
    return new Analytics({
      tenantId: this.tenantId,
      reader: () => this.routedReads(),
      writer: () => this.app(),
      retry: (fn) => this.core.retry(fn),
    })
  }

  /**
   * Statistics per session with turns, most recently active first: from the session_stats view where
   * it is current, computed from the turns where it is not (a session changed since the last refresh).
   */
  async sessionStats(opts?: { sessionId?: string; limit?: number }): Promise<SessionStats[]> {
    const options = v.options('options', opts, ['sessionId', 'limit'])
    const sid =
      options.sessionId === undefined
        ? null
        : v.identifier('sessionId', options.sessionId, LIMITS.sessionIdMax)
    const limit = v.limit('limit', options.limit, LIMITS.listLimitDefault, 10_000)
    const db = await this.routedReads()
    return this.core.retry(() => sessionStatsRows(db, this.tenantId, sid, limit))
  }

  /** Rebuilds session_stats for every tenant, without blocking readers (owner pool). */
  async refreshSessionStats(): Promise<void> {
    await this.core
      .retry(() => refreshSessionStats(this.core.transport.owner))
      .finally(() => this.core.reads.noteWrite(null))
  }

  /**
   * When session_stats was last refreshed (by `serve`'s upkeep or `maintain stats`), and whether turns
   * changed since. sessionStats() is exact either way; this says how much of it the view answers.
   */
  async sessionStatsFreshness(): Promise<StatsFreshness> {
    return this.core.retry(() => statsFreshness(this.core.transport.owner))
  }

  /**
   * Searches this tenant's turns: `fulltext` (web-search syntax), `semantic` (vectors of the configured
   * embedder) or `hybrid` (both, fused by reciprocal rank). The default is hybrid where this tenant has
   * vectors of the configured model, else fulltext. Filters apply to every mode.
   */
  async search(options: SearchOptions): Promise<SearchResponse> {
    const s = validateSearch(options)
    const db = await this.app()
    const content = this.core.content
    const mode = (await content.searchMode(db, this.tenantId, s.mode)) ?? s.mode
    return content.openSearch(db, this.tenantId, await this.core.search.search(this.tenantId, { ...s, mode }))
  }

  /**
   * Context for an LLM: the newest turns of the session that fit `maxTokens` (oldest first), and with
   * `query`, older turns of the session's user (or of the session) that match it, in the same budget.
   */
  async context(sessionId: string, options: ContextOptions = {}): Promise<ContextResult> {
    const sid = v.identifier('sessionId', sessionId, LIMITS.sessionIdMax)
    const o = options === undefined || options === null ? {} : v.requireObject('options', options)
    const maxTokens = v.limit(
      'maxTokens',
      o.maxTokens,
      CONTEXT_LIMITS.maxTokensDefault,
      CONTEXT_LIMITS.maxTokensMax,
    )
    const query =
      o.query === undefined || o.query === null || o.query === ''
        ? undefined
        : validateSearch({ query: o.query as string }).query
    const db = await this.app()
    const user = await this.core.retry(() => sessionUser(db, this.tenantId, sid))
    if (user === undefined) throw new NotFoundError(`session ${JSON.stringify(sid)} not found`)
    const filters = validateFilters(user ? { userId: user } : { sessionId: sid })
    return buildContext(
      {
        history: async (before, limit) => this.history(sid, { before, limit }),
        search: async (q, limit) => {
          const content = this.core.content
          const mode =
            (await content.searchMode(db, this.tenantId, undefined)) ??
            (await this.core.search.defaultMode(this.tenantId))
          const found = await this.core.search.search(this.tenantId, { query: q, mode, filters, limit })
          return content.openSearch(db, this.tenantId, found)
        },
      },
      maxTokens,
      query,
    )
  }

  /** Turns waiting for a vector by the configured embedder (all tenants). */
  embeddingBacklog(): Promise<number> {
    return this.core.search.backlog()
  }

  /** The embedder vectors are computed with (null: embeddings off). */
  get embedder(): Embedder | null {
    return this.core.search.embedder
  }

  /**
   * Computes pending embeddings until the queue has nothing due (the `embed` command). With `backfill`,
   * first queues every turn that has no vector by the configured model. Resumable: the queue is in the
   * database, so an interrupted run loses nothing.
   */
  async embedPending(
    options: {
      backfill?: boolean
      batchSize?: number
      onProgress?: (p: { queued: number; embedded: number; failed: number; backlog: number }) => void
    } = {},
  ): Promise<{ queued: number; embedded: number; failed: number }> {
    // The index needs the model's dimensions, which a remote embedder may only tell once it answers:
    // a provider that is down now must not stop the run (its batches back off), so try again after.
    const indexed = await this.core.search.prepareIndex().catch(() => false)
    let queued = 0
    if (options.backfill) {
      queued = await this.core.search.enqueueMissing((n) =>
        options.onProgress?.({ queued: n, embedded: 0, failed: 0, backlog: -1 }),
      )
    }
    let embedded = 0
    let failed = 0
    for (;;) {
      const r: BatchResult = await this.core.retry(() =>
        this.core.search.workBatch({ batchSize: options.batchSize }),
      )
      if (r.claimed === 0) break
      embedded += r.embedded
      failed += r.failed
      if (options.onProgress) {
        const backlog = await this.core.search.backlog()
        options.onProgress({ queued, embedded, failed, backlog })
      }
    }
    if (!indexed && embedded > 0) await this.core.search.prepareIndex()
    return { queued, embedded, failed }
  }

  /** Works the embedding queue in the background (serve does this) until stopEmbeddingWorker/close. */
  startEmbeddingWorker(options: { onError?: (err: unknown) => void; idleMs?: number } = {}): void {
    this.core.search.startWorker(options)
  }

  stopEmbeddingWorker(): Promise<void> {
    return this.core.search.stopWorker()
  }

  /** Closes every pool (and the embedded database). */
  close(): Promise<void> {
    return this.core.close()
  }
}

const TURN_FIELDS = [
  'sessionId',
  'robotPersonality',
  'userMessage',
  'robotResponse',
  'metadata',
  'userId',
  'id',
  'createdAt',
  'embedding',
] as const

/** A vector the client computed for its turn: stored with its model name, searched when that model is configured. */
function validateEmbedding(value: unknown): { model: string; vector: number[] } | undefined {
  if (value === undefined || value === null) return undefined
  const e = v.requireObject('embedding', value)
  const model = v.identifier('embedding.model', e.model, 200)
  const vector = e.vector
  if (
    !Array.isArray(vector) ||
    vector.length < 1 ||
    vector.length > 16000 ||
    !vector.every((x) => typeof x === 'number' && Number.isFinite(x))
  ) {
    throw new ValidationError('embedding.vector', 'must be an array of 1 to 16000 finite numbers')
  }
  if (vector.every((x) => x === 0)) throw new ValidationError('embedding.vector', 'must not be all zeros')
  return { model, vector }
}

/** The session's user id: null when it has none, undefined when there is no such session. */
async function sessionUser(
  db: DbPool,
  tenant: string,
  sessionId: string,
): Promise<string | null | undefined> {
  const { rows } = await db.query<{ user_id: string | null }>({
    text: `SELECT to_jsonb(s) ->> 'user_id' AS user_id
           FROM robot_brain.use_tenant($1) AS ctx(tenant_id)
           CROSS JOIN LATERAL (SELECT * FROM robot_brain.sessions s WHERE s.tenant_id = ctx.tenant_id AND s.id = $2) s`,
    values: [tenant, sessionId],
  })
  return rows.length === 0 ? undefined : (rows[0]?.user_id ?? null)
}

function validateTurn(input: TurnInput): NewTurn {
  const t = v.knownFields('', v.requireObject('turn', input) as unknown as TurnInput, TURN_FIELDS)
  const key = v.rowKey('id', t.id, 'createdAt', t.createdAt)
  return {
    id: key.id,
    createdAt: key.createdAt,
    sessionId: v.identifier('sessionId', t.sessionId, LIMITS.sessionIdMax),
    robotPersonality: v.identifier('robotPersonality', t.robotPersonality, LIMITS.nameMax),
    userMessage: v.text('userMessage', t.userMessage),
    robotResponse:
      t.robotResponse === undefined || t.robotResponse === null
        ? null
        : v.text('robotResponse', t.robotResponse),
    metadata: v.metadata('metadata', t.metadata),
    userId: t.userId === undefined ? null : v.identifier('userId', t.userId, LIMITS.userIdMax),
  }
}

/**
 * The first field in which a replayed turn differs from the stored one, or null when it is the same
 * turn. createdAt is not compared: a retry may recompute it, and the id alone names the turn. A
 * replay without an answer matches a stored turn that has been answered since (a retried pending
 * turn), whose metadata the answer may have extended. userId belongs to the session, not the turn.
 */
function replayDifference(turn: NewTurn, stored: TurnRow): string | null {
  if (stored.session_id !== turn.sessionId) return 'sessionId'
  if (stored.robot_personality !== turn.robotPersonality) return 'robotPersonality'
  if (stored.user_message !== turn.userMessage) return 'userMessage'
  if (turn.robotResponse !== null && stored.robot_response !== turn.robotResponse) return 'robotResponse'
  // Compared as JSON values: key order and undefined members do not matter, as in jsonb.
  const sent = JSON.parse(JSON.stringify(turn.metadata)) as Record<string, unknown>
  const completedSince = turn.robotResponse === null && stored.robot_response !== null
  const same = completedSince
    ? Object.entries(sent).every(([k, value]) => isDeepStrictEqual(stored.metadata[k], value))
    : isDeepStrictEqual(stored.metadata, sent)
  return same ? null : 'metadata'
}

/**
 * A write that gave up on the connection may or may not have committed: the caller learns the turn's
 * id (made here when it sent none), and a resend with it is stored once. Each caller gets its own
 * error: group commit rejects a whole batch with one.
 */
function withTurnId(err: unknown, turnId: string): unknown {
  if (!(err instanceof UnavailableError)) return err
  return new UnavailableError(`${err.message} (turn ${turnId}: send it again with this id)`, {
    cause: err.cause ?? err,
    retryAfterSeconds: err.retryAfterSeconds,
    turnId,
  })
}

/** A history cursor: a key of a turn (a UUID id). */
function turnCursor(field: string, cursor: unknown) {
  return decodeCursor(field, cursor, isUuid)
}

function optionalUserId(value: unknown): string | null | undefined {
  if (value === undefined || value === null) return value
  return v.identifier('userId', value, LIMITS.userIdMax)
}

const INTERACTION_FIELDS = [
  'robotId',
  'interactionType',
  'durationMs',
  'success',
  'metadata',
  'id',
  'createdAt',
] as const

export function validateInteraction(input: InteractionInput, at: string): NewInteraction {
  const e = v.knownFields(at, v.requireObject(at, input) as unknown as InteractionInput, INTERACTION_FIELDS)
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
export async function openStore(options: OpenStoreOptions = optionsFromEnv()): Promise<Store> {
  const { embedder: chosen, pool, readPool, masterKey, ...storeOptions } = options
  if (pool) return openOnCallerPool(options, pool, readPool)
  if (readPool) throw new ConfigError('readPool: needs pool as well (the application pool)')
  const config = resolveConfig(storeOptions)
  const embedder = chosen === undefined ? embedderFromEnv() : chosen
  let core: StoreCore | undefined
  const poolError: PoolErrorListener = (err, pool) => core?.poolError(err, pool)
  const runtimeRole = () => core?.runtimeRole ?? null
  // Each transport is loaded only when used: PGlite's WebAssembly and the Neon driver are heavy,
  // and a process talking to PostgreSQL over TCP needs neither.
  const transport =
    config.driver === 'pglite'
      ? await (await import('../db/pglite.js')).openPglite(config, runtimeRole)
      : config.driver === 'neon'
        ? (await import('../db/neon.js')).openNeon(config, runtimeRole, poolError)
        : (await import('../db/pg.js')).openPg(config, runtimeRole, poolError)
  core = new StoreCore(config, transport, embedder, masterKey)
  return new Store(core, DEFAULT_TENANT)
}

/** openStore({ pool }): the store's queries on the application's own pool (see db/caller-pool.ts). */
async function openOnCallerPool(
  options: OpenStoreOptions,
  pool: CallerPool,
  readPool: CallerPool | undefined,
): Promise<Store> {
  const { embedder: chosen, pool: _p, readPool: _r, masterKey, ...storeOptions } = options
  const { callerPoolUrl, callerTransport } = await import('../db/caller-pool.js')
  const driver = storeOptions.driver === 'neon' ? 'neon' : 'pg'
  const config = resolveConfig({
    ...storeOptions,
    driver,
    url: storeOptions.url ?? callerPoolUrl(pool, 'pool'),
    readUrl: storeOptions.readUrl ?? (readPool ? callerPoolUrl(readPool, 'readPool') : undefined),
  })
  const embedder = chosen === undefined ? embedderFromEnv() : chosen
  let core: StoreCore | undefined
  const makePool =
    driver === 'neon'
      ? (await import('../db/neon.js')).neonPoolMaker(config)
      : (await import('../db/pg.js')).pgPoolMaker(config)
  const transport = callerTransport(
    driver,
    config,
    { pool, readPool, directUrl: storeOptions.directUrl },
    makePool,
    (err, which) => core?.poolError(err, which),
  )
  core = new StoreCore(config, transport, embedder, masterKey)
  return new Store(core, DEFAULT_TENANT)
}
