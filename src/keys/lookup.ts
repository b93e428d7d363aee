// Request-time key lookup, on the app pool through the SECURITY DEFINER function of 0002_api_keys.sql.
// Answers are cached for at most `cacheMs` (default 1 s): a revoked key stops working within that,
// while a busy client does not cost a database round trip per request.
import type { RetryOptions } from '../config.js'
import type { DbPool } from '../db/pool.js'
import { withRetry } from '../db/retry.js'
import { UnavailableError } from '../errors.js'
import { type KeyScope, UNDEFINED_FUNCTION } from './keys.js'
import { hashKey, looksLikeKey } from './secret.js'

export interface KeyLookupResult {
  /** Whether any key is active (if none, anonymous requests may be allowed on loopback). */
  keysExist: boolean
  /**
   * Whether any key was ever created, revoked ones included: once keys were used, revoking the last
   * one does not reopen anonymous access by itself.
   */
  keysEver: boolean
  /** The tenant of the presented key; null when no key was presented or it is unknown/revoked. */
  tenant: string | null
  /** The presented key's id and scope (null with tenant null). */
  keyId: string | null
  scope: KeyScope | null
}

/** Most answers kept; the cache is cleared when full (a flood of wrong keys cannot grow it). */
const CACHE_MAX = 10_000
/** Cache key for "no key presented". */
const ANONYMOUS = ''
/** 3F000: the robot_brain schema does not exist at all (not migrated). */
const INVALID_SCHEMA_NAME = '3F000'

export class KeyLookup {
  private readonly cache = new Map<string, { result: KeyLookupResult; expires: number }>()

  constructor(
    private readonly app: DbPool,
    private readonly retry: RetryOptions,
    /** How long an answer may be reused (ms); 0 disables the cache. At most 1000. */
    private readonly cacheMs = 1000,
  ) {
    if (cacheMs < 0 || cacheMs > 1000) throw new RangeError('cacheMs must be between 0 and 1000')
  }

  /** Looks up `token` (undefined: no key presented). */
  async lookup(token: string | undefined): Promise<KeyLookupResult> {
    // A token of the wrong shape cannot be a key: still ask whether keys exist, but not for it.
    const hash = token !== undefined && looksLikeKey(token) ? hashKey(token) : null
    const cacheKey = token === undefined ? ANONYMOUS : (hash?.toString('base64') ?? 'malformed')
    const now = Date.now()
    const hit = this.cache.get(cacheKey)
    if (hit && hit.expires > now) return hit.result
    const result = await this.query(hash)
    if (this.cacheMs > 0) {
      if (this.cache.size >= CACHE_MAX) this.cache.clear()
      this.cache.set(cacheKey, { result, expires: now + this.cacheMs })
    }
    return result
  }

  /** Forgets every cached answer (e.g. after creating or revoking a key in this process). */
  clear(): void {
    this.cache.clear()
  }

  private async query(hash: Buffer | null): Promise<KeyLookupResult> {
    try {
      const { rows } = await withRetry(
        () =>
          this.app.query<{
            keys_exist: boolean
            keys_ever: boolean
            tenant: string | null
            key_id: string | null
            scope: KeyScope | null
          }>({
            name: 'rb_authenticate_key',
            // Hex text, not a Buffer: every transport (pg, Neon, the PGlite bridge) passes text alike.
            text: "SELECT keys_exist, keys_ever, tenant, key_id::text AS key_id, scope FROM robot_brain.authenticate_key(decode($1, 'hex'))",
            values: [hash?.toString('hex') ?? null],
          }),
        this.retry,
      )
      const row = rows[0]
      return {
        keysExist: row?.keys_exist === true,
        keysEver: row?.keys_ever === true,
        tenant: row?.tenant ?? null,
        keyId: row?.key_id ?? null,
        scope: row?.scope ?? null,
      }
    } catch (err) {
      const code = (err as { code?: string }).code
      if (code === UNDEFINED_FUNCTION || code === INVALID_SCHEMA_NAME) {
        throw new UnavailableError(
          'the database schema is missing or older than this server: run `robot-brain-db migrate`',
          {
            cause: err,
            retryAfterSeconds: 5,
          },
        )
      }
      throw err
    }
  }
}
