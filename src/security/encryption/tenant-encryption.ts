// One tenant's encryption, as the library, the CLI and HTTP use it: status, enable (and the semantic
// search opt-in), rotate (master key: rewrap at once; data key: a new key and a re-encryption in
// batches), shred. Every change runs under the tenant's encryption lock (exclusive), which waits for
// the writers that saw the previous state (migration 0014), and is recorded in the audit log in the
// same transaction. Runs on the application pool as the runtime role: row-level security keeps it to
// its tenant.
import { randomBytes } from 'node:crypto'
import type { DbClient, DbPool } from '../../db/pool.js'
import { withTransaction } from '../../db/pool.js'
import { ValidationError } from '../../errors.js'
import { appendAudit } from '../audit.js'
import { EncryptionKeyError } from './errors.js'
import { unwrapKey, wrapKey } from './format.js'
import type { TenantCrypto } from './keyring.js'
import { MASTER_KEY_ENV, type MasterKeys } from './master-keys.js'
import { forgetVectors, newJob, type ResealJob, type ResealOptions, runReseal } from './reseal.js'
import type { StoreContent } from './store-content.js'
import { unnamed } from './unnamed.js'

export interface DataKeyInfo {
  version: number
  masterKeyId: string
  state: 'active' | 'retired' | 'destroyed'
  createdAt: string
  destroyedAt: string | null
}

export interface EncryptionStatus {
  tenantId: string
  /** off: never enabled; on; shredded: every data key destroyed. */
  state: 'off' | 'on' | 'shredded'
  keyVersion: number | null
  semanticSearch: boolean
  keys: DataKeyInfo[]
  /** A re-encryption not finished (enable or rotate): run the same command again to resume it. */
  job: {
    kind: 'enable' | 'rotate'
    version: number
    phase: 'turns' | 'sessions'
    turns: number
    sessions: number
  } | null
}

export interface EnableOptions extends ResealOptions {
  /** Let this tenant's embeddings be computed from its plain text (they leak meaning). Default false. */
  semanticSearch?: boolean
}

export interface RotateOptions extends ResealOptions {
  /** Only rewrap the data keys with the current master key (instant; no row changes). */
  masterOnly?: boolean
}

export interface ResealResult {
  status: EncryptionStatus
  /** Rows sealed again by this run (turns, sessions with userMetadata). */
  turns: number
  sessions: number
  /** False when stopped by maxBatches: run again to resume. */
  finished: boolean
}

export interface TenantEncryptionDeps {
  tenantId: string
  actor: string
  app: () => Promise<DbPool>
  content: StoreContent
  retry: <T>(fn: () => Promise<T>) => Promise<T>
}

export class TenantEncryption {
  constructor(private readonly d: TenantEncryptionDeps) {}

  get tenantId(): string {
    return this.d.tenantId
  }

  async status(): Promise<EncryptionStatus> {
    const db = await this.d.app()
    return this.d.retry(() => readStatus(db, this.d.tenantId))
  }

  /**
   * Encrypts this tenant: a new data key (wrapped by the current master key), new content sealed from
   * the moment this returns... and existing rows sealed in batches before it returns. Again on an
   * encrypted tenant: resumes an unfinished re-encryption, and applies `semanticSearch` when given.
   * On a shredded tenant: a new key for new content (the old stays unreadable).
   */
  async enable(options: EnableOptions = {}): Promise<ResealResult> {
    const masters = this.d.content.requireMasterKeys()
    const semantic = options.semanticSearch
    if (semantic !== undefined && typeof semantic !== 'boolean') {
      throw new ValidationError('semanticSearch', 'must be true or false')
    }
    const db = await this.d.app()
    await this.d.retry(() =>
      this.change(db, async (client, current) => {
        if (current.state === 'on') {
          if (semantic !== undefined && semantic !== current.semanticSearch) {
            await client.query({
              text: 'UPDATE robot_brain.tenant_encryption SET semantic_search = $2, updated_at = now() WHERE tenant_id = $1',
              values: [this.d.tenantId, semantic],
            })
            if (!semantic) await forgetVectors(client, this.d.tenantId)
            await this.audit(client, 'encryption.semantic_search', { semanticSearch: semantic })
          }
          return
        }
        const version = nextVersion(current)
        await this.newKey(client, masters, version)
        const job = await newJob(client, this.d.tenantId, 'enable', version)
        await client.query({
          text: `INSERT INTO robot_brain.tenant_encryption AS e (tenant_id, state, key_version, semantic_search, job)
                 VALUES ($1, 'on', $2, $3, $4::jsonb)
                 ON CONFLICT (tenant_id) DO UPDATE SET state = 'on', key_version = $2,
                   semantic_search = $3, job = $4::jsonb, enabled_at = now(), updated_at = now()`,
          values: [this.d.tenantId, version, semantic ?? false, JSON.stringify(job)],
        })
        await this.audit(client, 'encryption.enable', {
          keyVersion: version,
          masterKeyId: masters.currentId,
          semanticSearch: semantic ?? false,
        })
      }),
    )
    return this.resume(db, options)
  }

  /**
   * masterOnly: rewraps every data key of the tenant with the current master key (the first of
   * ROBOT_BRAIN_MASTER_KEY), at once; the previous master key may then be removed once every tenant was
   * rewrapped. Otherwise: a new data key for new content, and the stored rows sealed again with it in
   * batches; the old key stays (retired) so archives made before can still be read.
   */
  async rotate(options: RotateOptions = {}): Promise<ResealResult> {
    const masters = this.d.content.requireMasterKeys()
    const db = await this.d.app()
    if (options.masterOnly) {
      await this.d.retry(() =>
        this.change(db, async (client, current) => {
          this.requireOn(current)
          let rewrapped = 0
          for (const k of current.keys) {
            if (k.state === 'destroyed' || k.masterKeyId === masters.currentId) continue
            const old = masters.byId.get(k.masterKeyId)
            if (!old) {
              throw new EncryptionKeyError(
                `data key ${k.version} of tenant ${this.d.tenantId} is wrapped by master key ${k.masterKeyId}, which ${MASTER_KEY_ENV} does not hold: list it after the new current key (new:...,${k.masterKeyId}:...)`,
              )
            }
            const wrapped = await this.wrapped(client, k.version)
            const key = unwrapKey(old, wrapped, this.d.tenantId, k.version, k.masterKeyId)
            if (!key) {
              throw new EncryptionKeyError(
                `master key ${k.masterKeyId} does not open data key ${k.version} of tenant ${this.d.tenantId} (wrong key for this id): nothing was changed`,
              )
            }
            const current = masters.byId.get(masters.currentId) as Buffer
            await client.query({
              text: `UPDATE robot_brain.tenant_data_keys SET wrapped_key = $3, master_key_id = $4
                     WHERE tenant_id = $1 AND version = $2`,
              values: [
                this.d.tenantId,
                k.version,
                wrapKey(current, key, this.d.tenantId, k.version, masters.currentId),
                masters.currentId,
              ],
            })
            rewrapped++
          }
          await this.audit(client, 'encryption.rotate', {
            masterOnly: true,
            masterKeyId: masters.currentId,
            rewrapped,
          })
        }),
      )
      return { status: await this.status(), turns: 0, sessions: 0, finished: true }
    }
    await this.d.retry(() =>
      this.change(db, async (client, current) => {
        this.requireOn(current)
        if (current.job) return // an unfinished re-encryption: resume it first
        // The new key must be usable, and so must the current one (its rows are opened to seal again).
        const state = await this.d.content.state(client, this.d.tenantId, true)
        if (current.keyVersion !== null && !state.keys.has(current.keyVersion)) {
          throw new EncryptionKeyError(
            `cannot rotate tenant ${this.d.tenantId}: its data key ${current.keyVersion} does not open (${state.unavailable.get(current.keyVersion) ?? 'unknown'}); nothing was changed`,
          )
        }
        const version = nextVersion(current)
        await client.query({
          text: `UPDATE robot_brain.tenant_data_keys SET state = 'retired' WHERE tenant_id = $1 AND state = 'active'`,
          values: [this.d.tenantId],
        })
        await this.newKey(client, masters, version)
        const job = await newJob(client, this.d.tenantId, 'rotate', version)
        await client.query({
          text: `UPDATE robot_brain.tenant_encryption SET key_version = $2, job = $3::jsonb, updated_at = now() WHERE tenant_id = $1`,
          values: [this.d.tenantId, version, JSON.stringify(job)],
        })
        await this.audit(client, 'encryption.rotate', { keyVersion: version, masterKeyId: masters.currentId })
      }),
    )
    return this.resume(db, options)
  }

  /**
   * Destroys every data key of the tenant (crypto-shredding): its turns and userMetadata, in the
   * database, its backups, branches and archives, can never be read again by anyone who lacks a copy
   * of the wrapped key and the master key that wrapped it. Its vectors are deleted. Recorded in the
   * audit log. New content is refused until `enable` makes a new key. Needs no master key.
   */
  async shred(): Promise<EncryptionStatus> {
    const db = await this.d.app()
    await this.d.retry(() =>
      this.change(db, async (client, current) => {
        if (current.state === 'off') {
          throw new ValidationError(
            'tenant',
            `tenant ${this.d.tenantId} is not encrypted: there is no key to shred (erase its data instead)`,
          )
        }
        const { rows } = await client.query<{ n: number }>({
          text: `WITH d AS (
                   UPDATE robot_brain.tenant_data_keys SET wrapped_key = NULL, state = 'destroyed', destroyed_at = now()
                    WHERE tenant_id = $1 AND state <> 'destroyed' RETURNING 1)
                 SELECT count(*)::integer AS n FROM d`,
          values: [this.d.tenantId],
        })
        await client.query({
          text: `UPDATE robot_brain.tenant_encryption SET state = 'shredded', key_version = NULL, job = NULL,
                   semantic_search = false, updated_at = now() WHERE tenant_id = $1`,
          values: [this.d.tenantId],
        })
        await forgetVectors(client, this.d.tenantId)
        await this.audit(client, 'encryption.shred', { keysDestroyed: rows[0]?.n ?? 0 })
      }),
    )
    return this.status()
  }

  /** Runs the tenant's unfinished job, if any. */
  private async resume(db: DbPool, options: ResealOptions): Promise<ResealResult> {
    const run = await runReseal(
      db,
      this.d.tenantId,
      () => this.d.content.state(db, this.d.tenantId, true),
      options,
      this.d.retry,
    )
    return { status: await this.status(), turns: run.turns, sessions: run.sessions, finished: run.finished }
  }

  /** A change under the tenant's exclusive encryption lock, audited in the same transaction. */
  private async change(
    db: DbPool,
    fn: (client: DbClient, current: EncryptionStatus) => Promise<void>,
  ): Promise<void> {
    try {
      await withTransaction(db, async (client) => {
        await client.query({
          text: 'SELECT robot_brain.use_tenant($1), robot_brain.encryption_lock($1)',
          values: [this.d.tenantId],
        })
        const tx = unnamed(client)
        await fn(tx, await readStatus(tx, this.d.tenantId))
      })
    } finally {
      this.d.content.keyring.invalidate(this.d.tenantId)
    }
  }

  private requireOn(current: EncryptionStatus): void {
    if (current.state !== 'on') {
      throw new ValidationError(
        'tenant',
        current.state === 'off'
          ? `tenant ${this.d.tenantId} is not encrypted: run encryption enable first`
          : `tenant ${this.d.tenantId} was shredded: run encryption enable to make a new key`,
      )
    }
  }

  private async newKey(client: DbClient, masters: MasterKeys, version: number): Promise<void> {
    const master = masters.byId.get(masters.currentId) as Buffer
    const dataKey = randomBytes(32)
    await client.query({
      text: `INSERT INTO robot_brain.tenant_data_keys (tenant_id, version, master_key_id, wrapped_key, state)
             VALUES ($1, $2, $3, $4, 'active')`,
      values: [
        this.d.tenantId,
        version,
        masters.currentId,
        wrapKey(master, dataKey, this.d.tenantId, version, masters.currentId),
      ],
    })
  }

  private async wrapped(client: DbClient, version: number): Promise<Buffer> {
    const { rows } = await client.query<{ wrapped_key: Buffer }>({
      text: 'SELECT wrapped_key FROM robot_brain.tenant_data_keys WHERE tenant_id = $1 AND version = $2',
      values: [this.d.tenantId, version],
    })
    return rows[0]?.wrapped_key as Buffer
  }

  private async audit(client: DbClient, action: string, details: Record<string, unknown>): Promise<void> {
    await appendAudit(client, this.d.tenantId, {
      action,
      target: `tenant:${this.d.tenantId}`,
      details,
      actor: this.d.actor,
    })
  }
}

function nextVersion(current: EncryptionStatus): number {
  return current.keys.reduce((m, k) => Math.max(m, k.version), 0) + 1
}

/** The tenant's state, keys (never their bytes) and job; on a pool or inside a transaction. */
export async function readStatus(db: DbPool | DbClient, tenant: string): Promise<EncryptionStatus> {
  const { rows } = await db.query<{
    state: 'on' | 'shredded' | null
    key_version: number | null
    semantic_search: boolean | null
    job: ResealJob | null
    keys: Array<{
      version: number
      master_key_id: string
      state: DataKeyInfo['state']
      created_at: string
      destroyed_at: string | null
    }> | null
  }>({
    text: `SELECT e.state, e.key_version, e.semantic_search, e.job, k.keys
           FROM robot_brain.use_tenant($1) AS ctx(tenant_id)
           LEFT JOIN LATERAL (SELECT * FROM robot_brain.tenant_encryption e WHERE e.tenant_id = ctx.tenant_id) e ON true
           LEFT JOIN LATERAL (SELECT jsonb_agg(jsonb_build_object('version', k.version, 'master_key_id', k.master_key_id,
                                'state', k.state, 'created_at', k.created_at, 'destroyed_at', k.destroyed_at) ORDER BY k.version) AS keys
                              FROM robot_brain.tenant_data_keys k WHERE k.tenant_id = ctx.tenant_id) k ON true`,
    values: [tenant],
  })
  const r = rows[0]
  const job = r?.job ?? null
  return {
    tenantId: tenant,
    state: r?.state ?? 'off',
    keyVersion: r?.key_version ?? null,
    semanticSearch: r?.semantic_search === true,
    keys: (r?.keys ?? []).map((k) => ({
      version: k.version,
      masterKeyId: k.master_key_id,
      state: k.state,
      createdAt: new Date(k.created_at).toISOString(),
      destroyedAt: k.destroyed_at ? new Date(k.destroyed_at).toISOString() : null,
    })),
    job: job
      ? { kind: job.kind, version: job.version, phase: job.phase, turns: job.turns, sessions: job.sessions }
      : null,
  }
}

export type { TenantCrypto }

/** Every tenant that was ever encrypted, with its status (the owner's pool: all tenants). */
export async function encryptedTenants(owner: DbPool): Promise<EncryptionStatus[]> {
  const { rows } = await owner.query<{ tenant_id: string }>(
    'SELECT tenant_id FROM robot_brain.tenant_encryption ORDER BY tenant_id',
  )
  const all: EncryptionStatus[] = []
  for (const r of rows) all.push(await readStatus(owner, r.tenant_id))
  return all
}
