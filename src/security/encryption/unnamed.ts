// A transaction's client for statements of this module.
import type { DbClient } from '../../db/pool.js'

/**
 * The transaction's client without protocol-level statement names: through a transaction-mode pooler
 * without prepared-statement support a name may already exist on the server connection it lands on.
 */
export function unnamed(client: DbClient): DbClient {
  return {
    query: (q) => client.query(typeof q === 'object' ? { ...q, name: undefined } : q),
    release: (err) => client.release(err),
  } as DbClient
}
