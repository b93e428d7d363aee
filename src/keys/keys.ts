// API key management: create, list, revoke. Runs on the owner pool (the direct URL, as the schema
// owner): the application role has no privilege on robot_brain.api_keys.
import type { DbPool } from '../db/pool.js'
import { SQLSTATE } from '../db/sqlstate.js'
import { MigrationError, NotFoundError, ValidationError } from '../errors.js'
import { isUuid, newId } from '../store/ids.js'
import { charLength } from '../store/validate.js'
import { generateKey, hashKey, keyPrefix } from './secret.js'

/** 42883 undefined_function (not yet in db/sqlstate.ts, which another module owns). */
export const UNDEFINED_FUNCTION = '42883'

export const KEY_NAME_MAX = 100

export interface ApiKeyInfo {
  id: string
  tenant: string
  name: string
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
  key_prefix: string
  created_at: Date
  revoked_at: Date | null
  last_used_at: Date | null
}

const COLUMNS = 'id::text AS id, tenant_id, name, key_prefix, created_at, revoked_at, last_used_at'

function toInfo(row: KeyRow): ApiKeyInfo {
  return {
    id: row.id,
    tenant: row.tenant_id,
    name: row.name,
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
   * Creates a key for `tenant` (already validated, e.g. by `store.tenant(t).tenantId`).
   * The returned `key` is the only copy there will ever be.
   */
  async create(tenant: string, name = ''): Promise<CreatedKey> {
    if (typeof name !== 'string' || charLength(name) > KEY_NAME_MAX) {
      throw new ValidationError('name', `must be at most ${KEY_NAME_MAX} characters`)
    }
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this rejects
    if (/[\u0000-\u001f\u007f-\u009f]/.test(name)) {
      throw new ValidationError('name', 'must not contain control characters')
    }
    const key = generateKey()
    const { rows } = await this.owner
      .query<KeyRow>({
        text: `INSERT INTO robot_brain.api_keys (id, tenant_id, name, key_hash, key_prefix)
               VALUES ($1, $2, $3, decode($4, 'hex'), $5) RETURNING ${COLUMNS}`,
        values: [newId(), tenant, name, hashKey(key).toString('hex'), keyPrefix(key)],
      })
      .catch(explainMissingSchema)
    return { ...toInfo(rows[0] as KeyRow), key }
  }

  /** Every key, newest first, revoked ones included (their revokedAt is set). */
  async list(): Promise<ApiKeyInfo[]> {
    const { rows } = await this.owner
      .query<KeyRow>(`SELECT ${COLUMNS} FROM robot_brain.api_keys ORDER BY created_at DESC, id DESC`)
      .catch(explainMissingSchema)
    return rows.map(toInfo)
  }

  /**
   * Revokes a key; it stops working at once (servers cache a lookup for at most a second).
   * Revoking a revoked key changes nothing (`alreadyRevoked` says so).
   */
  async revoke(id: string): Promise<{ key: ApiKeyInfo; alreadyRevoked: boolean }> {
    if (typeof id !== 'string' || !isUuid(id)) throw new ValidationError('id', 'must be a key id (a UUID)')
    // The outer SELECT sees the row as it was before the UPDATE in the CTE, hence the coalesce.
    const { rows } = await this.owner
      .query<KeyRow & { already: boolean }>({
        text: `WITH upd AS (
                 UPDATE robot_brain.api_keys SET revoked_at = now()
                 WHERE id = $1 AND revoked_at IS NULL RETURNING id, revoked_at
               )
               SELECT k.id::text AS id, k.tenant_id, k.name, k.key_prefix, k.created_at,
                      coalesce(k.revoked_at, upd.revoked_at) AS revoked_at, k.last_used_at,
                      upd.id IS NULL AS already
               FROM robot_brain.api_keys k LEFT JOIN upd ON upd.id = k.id
               WHERE k.id = $1`,
        values: [id.toLowerCase()],
      })
      .catch(explainMissingSchema)
    const row = rows[0]
    if (!row) throw new NotFoundError(`no API key with id ${id}`)
    return { key: toInfo(row), alreadyRevoked: row.already }
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
