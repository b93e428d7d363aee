// Each tenant's encryption state and unwrapped data keys, cached in the process. Loaded with one query
// (the tenant's two rows of migration 0014) and unwrapped with the master keys; a key never leaves
// memory. A plain tenant's state is kept a minute: a stale "plain" cannot write plain text into a
// tenant encrypted meanwhile, because the database refuses it (RB4E1) and the store reloads and seals
// again. An encrypted tenant's keys are kept 5 seconds: a shred in another process stops this one
// reading within that time (a shred here stops it at once).
import type { Queryable } from '../../db/pool.js'
import { ContentShreddedError, EncryptionKeyError } from './errors.js'
import { unwrapKey } from './format.js'
import { MASTER_KEY_ENV, type MasterKeys } from './master-keys.js'

export interface TenantCrypto {
  tenant: string
  /** The data key new content is sealed with: 0 not encrypted, -1 shredded. */
  version: number
  semanticSearch: boolean
  // Uint8Array (a Buffer is one) in the types the package publishes: they must check without @types/node.
  /** Unwrapped data keys by version. */
  keys: Map<number, Uint8Array>
  /** Versions whose key could not be unwrapped, and why (no master key, wrong master key). */
  unavailable: Map<number, string>
  destroyed: Set<number>
  loadedAt: number
}

const PLAIN_TTL_MS = 60_000
const KEYS_TTL_MS = 5_000
const MAX_CACHED = 10_000

const LOAD = `
SELECT e.state, e.key_version, e.semantic_search, k.version, k.master_key_id, k.wrapped_key, k.state AS key_state
FROM robot_brain.use_tenant($1) AS ctx(tenant_id)
LEFT JOIN LATERAL (SELECT * FROM robot_brain.tenant_encryption e WHERE e.tenant_id = ctx.tenant_id) e ON true
LEFT JOIN LATERAL (SELECT * FROM robot_brain.tenant_data_keys k WHERE k.tenant_id = ctx.tenant_id) k ON true`

interface LoadRow {
  state: 'on' | 'shredded' | null
  key_version: number | null
  semantic_search: boolean | null
  version: number | null
  master_key_id: string | null
  wrapped_key: Buffer | null
  key_state: string | null
}

export class Keyring {
  private readonly cache = new Map<string, TenantCrypto>()

  constructor(private readonly masterKeys: () => MasterKeys | null) {}

  /** The tenant's state; `fresh` reloads it whatever the cache holds. */
  async get(db: Queryable, tenant: string, fresh = false): Promise<TenantCrypto> {
    const cached = this.cache.get(tenant)
    const ttl = cached && cached.version === 0 ? PLAIN_TTL_MS : KEYS_TTL_MS
    if (cached && !fresh && Date.now() - cached.loadedAt < ttl) return cached
    const { rows } = await db.query<LoadRow>({ name: 'rb_encryption_load', text: LOAD, values: [tenant] })
    const state = this.build(tenant, rows)
    if (this.cache.size >= MAX_CACHED) this.cache.clear()
    this.cache.set(tenant, state)
    return state
  }

  invalidate(tenant: string): void {
    this.cache.delete(tenant)
  }

  private build(tenant: string, rows: LoadRow[]): TenantCrypto {
    const first = rows[0]
    const state: TenantCrypto = {
      tenant,
      version: first?.state === 'on' ? (first.key_version ?? 0) : first?.state === 'shredded' ? -1 : 0,
      semanticSearch: first?.semantic_search === true,
      keys: new Map(),
      unavailable: new Map(),
      destroyed: new Set(),
      loadedAt: Date.now(),
    }
    let masters: MasterKeys | null | undefined
    for (const r of rows) {
      if (r.version === null) continue
      if (r.key_state === 'destroyed' || !r.wrapped_key) {
        state.destroyed.add(r.version)
        continue
      }
      try {
        masters ??= this.masterKeys()
      } catch (err) {
        state.unavailable.set(r.version, (err as Error).message)
        continue
      }
      const master = masters?.byId.get(r.master_key_id ?? '')
      if (!masters) {
        state.unavailable.set(r.version, `${MASTER_KEY_ENV} is not set`)
      } else if (!master) {
        state.unavailable.set(r.version, `${MASTER_KEY_ENV} holds no key with id ${r.master_key_id}`)
      } else {
        const key = unwrapKey(master, r.wrapped_key, tenant, r.version, r.master_key_id ?? '')
        if (key) state.keys.set(r.version, key)
        else
          state.unavailable.set(
            r.version,
            `the master key with id ${r.master_key_id} is not the one that wrapped it (wrong key for this id)`,
          )
      }
    }
    return state
  }
}

/** The key of `version`, or a clear error: shredded, or the master key missing or wrong. */
export function dataKey(c: TenantCrypto, version: number): Uint8Array {
  const key = c.keys.get(version)
  if (key) return key
  if (c.destroyed.has(version) || c.version === -1) throw shredded(c.tenant)
  const why = c.unavailable.get(version) ?? 'no such key version'
  throw new EncryptionKeyError(`cannot use data key ${version} of tenant ${c.tenant}: ${why}`)
}

export function shredded(tenant: string): ContentShreddedError {
  return new ContentShreddedError(
    `the content of tenant ${tenant} was crypto-shredded (encryption shred): its data keys are destroyed and it can never be read`,
  )
}
