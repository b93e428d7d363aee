// API key management: create, list, revoke. Runs on the owner pool (the direct URL, as the schema
// owner): the application role has no privilege on robot_brain.api_keys.
import { type DbPool, withTransaction } from '../db/pool.js'
import { SQLSTATE } from '../db/sqlstate.js'
import { MigrationError, NotFoundError, ValidationError } from '../errors.js'
import { appendAudit } from '../security/audit.js'
import { isUuid, newId } from '../store/ids.js'
import { charLength } from '../store/validate.js'
import { generateKey, hashKey, keyPrefix } from './secret.js'

/** 42883 undefined_function (not yet in db/sqlstate.ts, which another module owns). */
export const UNDEFINED_FUNCTION = '42883'

export const KEY_NAME_MAX = 100

/** `read`: GET only; `write`: read and write (the default, and every key made before scopes); `admin`: also users, audit, keys. */
export type KeyScope = 'read' | 'write' | 'admin'
export const KEY_SCOPES: readonly KeyScope[] = ['read', 'write', 'admin']

export function keyScope(value: unknown, field = 'scope'): KeyScope {
  if (value === undefined || value === null) return 'write'
  if (typeof value !== 'string' || !KEY_SCOPES.includes(value as KeyScope)) {
    throw new ValidationError(field, `must be one of ${KEY_SCOPES.join(', ')}`)
  }
  return value as KeyScope
}

/** Whether a key of scope `has` may do what needs `needs`. */
export function scopeAllows(has: KeyScope, needs: KeyScope): boolean {
  return KEY_SCOPES.indexOf(has) >= KEY_SCOPES.indexOf(needs)
}

/** Who changes keys, for the audit log: `owner` (the command line), `key:<uuid>`, `anonymous`. */
export interface KeyChangeOptions {
  actor?: string
}

export interface ApiKeyInfo {
  id: string
  tenant: string
  name: string
  scope: KeyScope
  /** The first characters of the key, to tell keys apart. */
  prefix: string
  createdAt: string
  revokedAt: string | null
  lastUsedAt: string | null
}

export interface CreatedKey extends ApiKeyInfo {
  /** The key itself. Shown once: only its hash is stored. */
  key: string
}

interface KeyRow {
  id: string
  tenant_id: string
  name: string
  scope: KeyScope
  key_prefix: string
  created_at: Date
  revoked_at: Date | null
  last_used_at: Date | null
}

const COLUMNS = 'id::text AS id, tenant_id, name, scope, key_prefix, created_at, revoked_at, last_used_at'

function toInfo(row: KeyRow): ApiKeyInfo {
  return {
    id: row.id,
    tenant: row.tenant_id,
    name: row.name,
    scope: row.scope,
    prefix: row.key_prefix,
    createdAt: row.created_at.toISOString(),
    revokedAt: row.revoked_at?.toISOString() ?? null,
    lastUsedAt: row.last_used_at?.toISOString() ?? null,
  }
}

/** A missing table means the database was not migrated to this version: say so plainly. */
function explainMissingSchema(err: unknown): never {
  const code = (err as { code?: string }).code
  if (code === SQLSTATE.UNDEFINED_TABLE || code === UNDEFINED_FUNCTION) {
    throw new MigrationError(
      'the database has no API key table yet: run `robot-brain-db migrate` (or start `robot-brain-db serve`, which migrates) first',
      { cause: err },
    )
  }
  throw err
}

export class KeyStore {
  /** `owner`: the store's owner pool (`store.transport.owner`). */
  constructor(private readonly owner: DbPool) {}

  /**
   * Creates a key for `tenant` (already validated, e.g. by `store.tenant(t).tenantId`), with `scope`
   * (default write), and records it in the tenant's audit log in the same transaction.
   * The returned `key` is the only copy there will ever be.
   */
  async create(
    tenant: string,
    name = '',
    options: KeyChangeOptions & { scope?: KeyScope } = {},
  ): Promise<CreatedKey> {
    if (typeof name !== 'string' || charLength(name) > KEY_NAME_MAX) {
      throw new ValidationError('name', `must be at most ${KEY_NAME_MAX} characters`)
    }
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this rejects
    if (/[\u0000-\u001f\u007f-\u009f]/.test(name)) {
      throw new ValidationError('name', 'must not contain control characters')
    }
    const scope = keyScope(options.scope)
    const key = generateKey()
    const row = await withTransaction(this.owner, async (db) => {
      const { rows } = await db.query<KeyRow>({
        text: `INSERT INTO robot_brain.api_keys (id, tenant_id, name, scope, key_hash, key_prefix)
               VALUES ($1, $2, $3, $4, decode($5, 'hex'), $6) RETURNING ${COLUMNS}`,
        values: [newId(), tenant, name, scope, hashKey(key).toString('hex'), keyPrefix(key)],
      })
      const created = rows[0] as KeyRow
      await appendAudit(db, tenant, {
        actor: options.actor ?? 'owner',
        action: 'key.create',
        target: `key:${created.id}`,
        details: { scope, name, prefix: created.key_prefix },
      })
      return created
    }).catch(explainMissingSchema)
    return { ...toInfo(row), key }
  }

  /** Every key (or one tenant's), newest first, revoked ones included (their revokedAt is set). */
  async list(tenant?: string): Promise<ApiKeyInfo[]> {
    const { rows } = await this.owner
      .query<KeyRow>({
        text: `SELECT ${COLUMNS} FROM robot_brain.api_keys WHERE $1::text IS NULL OR tenant_id = $1
               ORDER BY created_at DESC, id DESC`,
        values: [tenant ?? null],
      })
      .catch(explainMissingSchema)
    return rows.map(toInfo)
  }

  /**
   * Revokes a key; it stops working at once (servers cache a lookup for at most a second).
   * Revoking a revoked key changes nothing (`alreadyRevoked` says so). With `tenant`, only a key of
   * that tenant is found (an admin key manages its own tenant's keys). Revoking the last key does not
   * reopen anonymous access: see server/auth.ts.
   */
  async revoke(
    id: string,
    options: KeyChangeOptions & { tenant?: string } = {},
  ): Promise<{ key: ApiKeyInfo; alreadyRevoked: boolean }> {
    if (typeof id !== 'string' || !isUuid(id)) throw new ValidationError('id', 'must be a key id (a UUID)')
    const row = await withTransaction(this.owner, async (db) => {
      // The outer SELECT sees the row as it was before the UPDATE in the CTE, hence the coalesce.
      const { rows } = await db.query<KeyRow & { already: boolean }>({
        text: `WITH upd AS (
                 UPDATE robot_brain.api_keys SET revoked_at = now()
                 WHERE id = $1 AND revoked_at IS NULL AND ($2::text IS NULL OR tenant_id = $2)
                 RETURNING id, revoked_at
               )
               SELECT k.id::text AS id, k.tenant_id, k.name, k.scope, k.key_prefix, k.created_at,
                      coalesce(k.revoked_at, upd.revoked_at) AS revoked_at, k.last_used_at,
                      upd.id IS NULL AS already
               FROM robot_brain.api_keys k LEFT JOIN upd ON upd.id = k.id
               WHERE k.id = $1 AND ($2::text IS NULL OR k.tenant_id = $2)`,
        values: [id.toLowerCase(), options.tenant ?? null],
      })
      const found = rows[0]
      if (found && !found.already) {
        await appendAudit(db, found.tenant_id, {
          actor: options.actor ?? 'owner',
          action: 'key.revoke',
          target: `key:${found.id}`,
          details: { scope: found.scope, prefix: found.key_prefix },
        })
      }
      return found
    }).catch(explainMissingSchema)
    if (!row) throw new NotFoundError(`no API key with id ${id}`)
    return { key: toInfo(row), alreadyRevoked: row.already }
  }

  /** Whether any key was ever created (revoked ones count): then anonymous access stays closed. */
  async anyEver(): Promise<boolean> {
    const { rows } = await this.owner
      .query<{ any: boolean }>('SELECT EXISTS (SELECT FROM robot_brain.api_keys) AS any')
      .catch(explainMissingSchema)
    return rows[0]?.any === true
  }

  /** Whether at least one key is not revoked. */
  async anyActive(): Promise<boolean> {
    const { rows } = await this.owner
      .query<{ any: boolean }>(
        'SELECT EXISTS (SELECT FROM robot_brain.api_keys WHERE revoked_at IS NULL) AS any',
      )
      .catch(explainMissingSchema)
    return rows[0]?.any === true
  }
}
