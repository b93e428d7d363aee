// Shared by the encryption tests: master keys, and a store of the same database with other keys.
import { randomBytes } from 'node:crypto'
import { openStore, type Store } from '../../src/store/store.js'
import { backend, storeOptions, type TestStore } from '../support/store.js'

/** A new random master key value: 32 bytes in base64. */
export const newKey = (): string => randomBytes(32).toString('base64')
export const MASTER = `k1:${newKey()}`

/** Runs fn on a store of the same database with other master keys (PGlite: one store at a time). */
export async function withMasterKey<T>(
  t: TestStore,
  masterKey: string | undefined,
  fn: (s: Store) => Promise<T>,
): Promise<T> {
  const pglite = backend === 'pglite'
  if (pglite) await t.store.close()
  const other = await openStore(storeOptions(t.db, { masterKey: masterKey ?? '' }))
  try {
    return await fn(other)
  } finally {
    await other.close()
    if (pglite) await t.reopen()
  }
}
